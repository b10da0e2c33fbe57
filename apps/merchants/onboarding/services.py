"""Self-serve sign-up from the portal: the application and the test-mode keys, together."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from apps.common.clock import get_now
from apps.common.money import get_currency_exponent
from apps.merchants.api_keys import create_api_key
from apps.merchants.contracts import BeneficialOwnerInput, CreatedApiKey, MerchantSummary
from apps.merchants.errors import InvalidMerchantDataError
from apps.merchants.models import ApiKeyMode, ApiKeyType
from apps.merchants.selectors import list_merchant_members
from apps.merchants.services import KybUpload, apply_for_merchant_account

MAX_EXPECTED_MONTHLY_VOLUME_MAJOR = 10**12


@dataclass(frozen=True)
class SignUpResult:
    merchant: MerchantSummary
    user_id: int
    test_secret_key: CreatedApiKey = field(repr=False)
    test_publishable_key: CreatedApiKey = field(repr=False)


@sensitive_variables("password")
def sign_up_merchant(
    *,
    email: str,
    password: str,
    legal_name: str,
    trading_name: str,
    country: str,
    settlement_currency: str,
    support_email: str,
    registration_number: str = "",
    vat_id: str = "",
    mcc: str = "",
    website: str = "",
    expected_monthly_volume: int = 0,
    beneficial_owners: Sequence[BeneficialOwnerInput] = (),
    documents: Sequence[KybUpload] = (),
    ip_address: str | None = None,
    now: datetime | None = None,
) -> SignUpResult:
    """Apply for a merchant account (user as owner, ``applied`` merchant, owners, documents)
    and create its test-mode secret and publishable keys, all or nothing.

    ``expected_monthly_volume`` is in major units of the settlement currency. At least one
    beneficial owner is required. Raises InvalidMerchantDataError (or the currency/document
    errors of the services it calls) with ``param`` naming the offending field.
    """
    now = now or get_now()
    if not beneficial_owners:
        raise InvalidMerchantDataError(
            message="Add at least one beneficial owner.", param="beneficial_owners"
        )
    if (
        isinstance(expected_monthly_volume, bool)
        or not isinstance(expected_monthly_volume, int)
        or not 0 <= expected_monthly_volume <= MAX_EXPECTED_MONTHLY_VOLUME_MAJOR
    ):
        raise InvalidMerchantDataError(
            message="Expected monthly volume must be a whole, non-negative amount.",
            param="expected_monthly_volume",
        )
    exponent = get_currency_exponent(currency=settlement_currency)
    with transaction.atomic():
        merchant = apply_for_merchant_account(
            email=email,
            password=password,
            legal_name=legal_name,
            trading_name=trading_name,
            country=country,
            settlement_currency=settlement_currency,
            support_email=support_email,
            registration_number=registration_number,
            vat_id=vat_id,
            mcc=mcc,
            website=website,
            expected_monthly_volume_minor=expected_monthly_volume * 10**exponent,
            beneficial_owners=beneficial_owners,
            documents=documents,
            ip_address=ip_address,
            now=now,
        )
        (owner,) = list_merchant_members(merchant_id=merchant.public_id)  # the applicant
        user_id = owner.user_id
        keys = {
            key_type: create_api_key(
                merchant_id=merchant.public_id,
                mode=ApiKeyMode.TEST,
                key_type=key_type,
                name="Created at sign-up",
                actor_type="user",
                actor_id=str(user_id),
                now=now,
            )
            for key_type in (ApiKeyType.SECRET, ApiKeyType.PUBLISHABLE)
        }
    return SignUpResult(
        merchant=merchant,
        user_id=user_id,
        test_secret_key=keys[ApiKeyType.SECRET],
        test_publishable_key=keys[ApiKeyType.PUBLISHABLE],
    )
