"""Writes of the openbanking app: consents, their authorisation, reads through them, and
domestic payments — each bank call done as reserve → call → record (ARCHITECTURE.md §4).

No transaction or row lock is ever held across a bank call. Every refusal of a consent that
is revoked, expired, not authorised or someone else's happens before any bank request and is
written to the audit trail (``openbanking.consent.refused``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from django.db import IntegrityError, transaction

from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.common.errors import InvalidRequestError
from apps.common.ids import make_public_id
from apps.common.money import Money
from apps.common.outbox import enqueue_event
from apps.openbanking import crypto
from apps.openbanking.conf import (
    get_authorization_ttl_seconds,
    get_collection_account,
    get_redirect_uri,
    get_refund_authorization_ttl_seconds,
)
from apps.openbanking.connectors.base import (
    BankAccountInfo,
    BankBalanceInfo,
    BankConnectorError,
    BankPaymentResult,
    BankRefusedError,
    BankTransactionInfo,
    CallContext,
)
from apps.openbanking.connectors.registry import get_bank_config, get_connector
from apps.openbanking.contracts import PayoutAccountCheck
from apps.openbanking.errors import (
    BankPaymentNotFoundError,
    BankRefundNotPossibleError,
    BankRequestRefusedError,
    BankUnavailableError,
    ConsentNotFoundError,
    ConsentNotUsableError,
)
from apps.openbanking.models import BankConsent, BankPayment
from apps.openbanking.states import (
    CONSENT_TRANSITIONS,
    OBIE_CONSENT_STATUSES,
    BankPaymentStatus,
    ConsentStatus,
    bank_payment_status_from_obie,
    check_bank_payment_transition,
    check_consent_transition,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")
ACCOUNT_PERMISSIONS = (
    "ReadAccountsDetail",
    "ReadBalances",
    "ReadTransactionsDetail",
    "ReadTransactionsCredits",
    "ReadTransactionsDebits",
)
TOKEN_REFRESH_MARGIN = timedelta(seconds=30)
# kept in a payment consent's ``permissions``: the consent asks ReadRefundAccount "Yes"
REFUND_ACCOUNT_PERMISSION = "ReadRefundAccount"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks, for the audit trail."""

    actor_type: str = "system"
    actor_id: str = ""
    ip_address: str | None = None


SYSTEM = Actor()


@dataclass(frozen=True, slots=True)
class Creditor:
    """The account a domestic payment pays into (UK sort code + account number)."""

    name: str
    sort_code: str
    account_number: str

    def to_obie(self) -> dict[str, str]:
        return {
            "SchemeName": "UK.OBIE.SortCodeAccountNumber",
            "Identification": f"{self.sort_code}{self.account_number}",
            "Name": self.name,
        }


def _derive_key(*, public_id: str, purpose: str) -> str:
    """An x-idempotency-key derived from the row (≤ 40 characters), never a fresh random one:
    every retry of this bank request is recognised by the bank."""
    return hashlib.sha256(f"{purpose}:{public_id}".encode()).hexdigest()[:40]


def _context(*, idempotency_key: str | None = None) -> CallContext:
    return CallContext(
        interaction_id=str(uuid.uuid4()), idempotency_key=idempotency_key or str(uuid.uuid4())
    )


def _pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _set_consent_status(*, consent: BankConsent, status: ConsentStatus, now: datetime) -> None:
    check_consent_transition(current=consent.status, new=status)
    consent.status = status
    consent.status_updated_at = now
    consent.updated_at = now


def _unusable_reason(*, consent: BankConsent, now: datetime) -> str | None:
    if (
        consent.status == ConsentStatus.AUTHORISED
        and consent.expires_at
        and consent.expires_at <= now
    ):
        return "consent_expired"
    if consent.status == ConsentStatus.AUTHORISED:
        return None
    return {
        ConsentStatus.REVOKED: "consent_revoked",
        ConsentStatus.EXPIRED: "consent_expired",
        ConsentStatus.REJECTED: "consent_rejected",
        ConsentStatus.CONSUMED: "consent_consumed",
    }.get(ConsentStatus(consent.status), "consent_not_authorised")


def _refuse(*, merchant_id: str, consent_id: str, reason: str, action: str, actor: Actor) -> None:
    record_audit_event(
        action="openbanking.consent.refused",
        actor_type=actor.actor_type,
        actor_id=actor.actor_id,
        object_type="open_banking_consent",
        object_id=consent_id,
        merchant_ref=merchant_id,
        ip_address=actor.ip_address,
        metadata={"reason": reason, "attempted": action},
    )


def require_usable_consent(
    *,
    merchant_id: str,
    mode: str,
    consent_id: str,
    kind: str,
    action: str,
    actor: Actor = SYSTEM,
    now: datetime | None = None,
) -> BankConsent:
    """The merchant's authorised consent, or a refusal — audited, before any bank request.

    Someone else's (or no) consent is a 404; a revoked, expired, rejected, consumed or
    unauthorised one a 409 naming the reason. An authorised consent past its expiry is
    marked expired on the way."""
    now = now or get_now()
    consent = BankConsent.objects.filter(
        public_id=consent_id, merchant_ref=merchant_id, mode=mode, kind=kind
    ).first()
    if consent is None:
        _refuse(
            merchant_id=merchant_id,
            consent_id=consent_id,
            reason="not_found",
            action=action,
            actor=actor,
        )
        raise ConsentNotFoundError(param="consent")
    reason = _unusable_reason(consent=consent, now=now)
    if reason is None:
        return consent
    with transaction.atomic():
        if reason == "consent_expired":
            locked = BankConsent.objects.select_for_update().get(pk=consent.pk)
            if locked.status == ConsentStatus.AUTHORISED:
                _set_consent_status(consent=locked, status=ConsentStatus.EXPIRED, now=now)
                locked.save(update_fields=["status", "status_updated_at", "updated_at"])
        _refuse(
            merchant_id=merchant_id,
            consent_id=consent_id,
            reason=reason,
            action=action,
            actor=actor,
        )
    raise ConsentNotUsableError(
        code=reason,
        message=f"The consent cannot be used: {reason.replace('_', ' ')}.",
        param="consent",
    )


# -- creating consents ---------------------------------------------------------------------


def _new_consent(
    *,
    merchant_id: str,
    mode: str,
    bank_code: str,
    kind: str,
    return_url: str,
    now: datetime,
    permissions: list[str] | None = None,
    initiation: dict[str, Any] | None = None,
    expires_at: datetime | None = None,
) -> tuple[BankConsent, str]:
    public_id = make_public_id(prefix="obc")
    verifier, challenge = _pkce_pair()
    consent = BankConsent.objects.create(
        public_id=public_id,
        merchant_ref=merchant_id,
        mode=mode,
        bank_code=bank_code,
        kind=kind,
        status=ConsentStatus.CREATING,
        permissions=permissions or [],
        initiation=initiation or {},
        return_url=return_url,
        expires_at=expires_at,
        oauth_state=secrets.token_urlsafe(32),
        code_verifier_sealed=crypto.seal_secret(
            secret=verifier, field="code_verifier", owner_id=public_id
        ),
        idempotency_key=_derive_key(public_id=public_id, purpose="consent"),
        created_at=now,
        updated_at=now,
        status_updated_at=now,
    )
    return consent, challenge


def _record_consent_created(
    *, consent_pk: int, bank_consent_id: str, interaction_id: str, now: datetime
) -> BankConsent:
    with transaction.atomic():
        consent = BankConsent.objects.select_for_update().get(pk=consent_pk)
        if consent.status != ConsentStatus.CREATING:
            return consent
        consent.bank_consent_id = bank_consent_id
        consent.last_interaction_id = interaction_id
        _set_consent_status(consent=consent, status=ConsentStatus.AWAITING_AUTHORISATION, now=now)
        consent.save()
        enqueue_event(
            event_type="open_banking.consent.created",
            payload={"consent": consent.public_id, "kind": consent.kind, "bank": consent.bank_code},
            aggregate_type="open_banking_consent",
            aggregate_id=consent.public_id,
            merchant_ref=consent.merchant_ref,
            now=now,
        )
        return consent


def _fail_consent(*, consent_pk: int, code: str, now: datetime) -> BankConsent:
    with transaction.atomic():
        consent = BankConsent.objects.select_for_update().get(pk=consent_pk)
        if consent.status in (ConsentStatus.CREATING, ConsentStatus.AWAITING_AUTHORISATION):
            _set_consent_status(consent=consent, status=ConsentStatus.FAILED, now=now)
            consent.failure_code = code[:64]
            consent.save()
        return consent


def _create_at_bank(*, consent: BankConsent) -> BankConsent:
    """Call the bank for a reserved consent (``creating``) and record the answer."""
    connector = get_connector(bank_code=consent.bank_code)
    context = _context(idempotency_key=consent.idempotency_key)
    try:
        if consent.kind == "account_access":
            result = connector.create_account_consent(
                permissions=list(consent.permissions),
                expires_at=consent.expires_at,
                context=context,
            )
        else:
            result = connector.create_payment_consent(
                initiation=dict(consent.initiation),
                context=context,
                read_refund_account=REFUND_ACCOUNT_PERMISSION in consent.permissions,
            )
    except BankRefusedError as error:
        _fail_consent(consent_pk=consent.pk, code=error.code or "bank_refused", now=get_now())
        raise BankRequestRefusedError(message=f"The bank refused the consent: {error}") from error
    except BankConnectorError as error:
        # unknown: the consent stays `creating`; the same x-idempotency-key resolves it
        raise BankUnavailableError(extra={"consent": consent.public_id}) from error
    return _record_consent_created(
        consent_pk=consent.pk,
        bank_consent_id=result.bank_consent_id,
        interaction_id=context.interaction_id,
        now=get_now(),
    )


def create_account_access_consent(
    *,
    merchant_id: str,
    mode: str,
    bank_code: str,
    return_url: str,
    permissions: list[str] | None = None,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> BankConsent:
    """Reserve a consent row, create it at the bank, record the bank's consent id."""
    get_bank_config(bank_code=bank_code)
    now = now or get_now()
    if expires_at is not None and expires_at <= now:
        raise InvalidRequestError(
            code="expiry_in_past", message="expires_at must be in the future.", param="expires_at"
        )
    with transaction.atomic():
        consent, _ = _new_consent(
            merchant_id=merchant_id,
            mode=mode,
            bank_code=bank_code,
            kind="account_access",
            return_url=return_url,
            now=now,
            permissions=list(permissions or ACCOUNT_PERMISSIONS),
            expires_at=expires_at,
        )
    return _create_at_bank(consent=consent)


def _to_decimal_string(amount: Money) -> str:
    return f"{amount.to_decimal():.{amount.exponent}f}"


def create_bank_payment(
    *,
    merchant_id: str,
    mode: str,
    bank_code: str,
    amount: Money,
    creditor: Creditor,
    reference: str,
    return_url: str,
    metadata: dict[str, Any] | None = None,
    read_refund_account: bool = False,
    debtor: Creditor | None = None,
    refund_of: BankPayment | None = None,
    request_key: str = "",
    now: datetime | None = None,
) -> BankPayment:
    """A domestic payment awaiting the customer: its payment consent is created at the bank;
    the customer then authorises it at ``authorization_url_for(consent)``.

    ``read_refund_account``: the consent asks the bank to share the payer's account (kept
    sealed for refunds). ``debtor``: the account it must be paid from (a refund: the
    collection account). ``refund_of``: the collection this payment refunds."""
    get_bank_config(bank_code=bank_code)
    if amount.currency != "GBP":
        raise InvalidRequestError(
            code="currency_not_supported",
            message="Domestic bank payments are in GBP.",
            param="currency",
        )
    if amount.amount_minor <= 0:
        raise InvalidRequestError(
            code="amount_too_small", message="Amount must be positive.", param="amount"
        )
    now = now or get_now()
    with transaction.atomic():
        if refund_of is not None:
            _check_refund_room(refund_of_pk=refund_of.pk, amount_minor=amount.amount_minor)
        public_id = make_public_id(prefix="obp")
        initiation: dict[str, Any] = {
            "InstructionIdentification": public_id[:35],
            "EndToEndIdentification": public_id[:35],
            "InstructedAmount": {"Amount": _to_decimal_string(amount), "Currency": amount.currency},
            "CreditorAccount": creditor.to_obie(),
            "RemittanceInformation": {"Unstructured": [reference[:140]]},
        }
        if debtor is not None:
            initiation["DebtorAccount"] = debtor.to_obie()
        consent, _ = _new_consent(
            merchant_id=merchant_id,
            mode=mode,
            bank_code=bank_code,
            kind="domestic_payment",
            return_url=return_url,
            now=now,
            initiation=initiation,
            permissions=[REFUND_ACCOUNT_PERMISSION] if read_refund_account else [],
        )
        payment = BankPayment.objects.create(
            public_id=public_id,
            merchant_ref=merchant_id,
            mode=mode,
            consent=consent,
            amount_minor=amount.amount_minor,
            currency=amount.currency,
            reference=reference[:35],
            status=BankPaymentStatus.REQUIRES_ACTION,
            idempotency_key=_derive_key(public_id=public_id, purpose="domestic-payment"),
            metadata=metadata or {},
            purpose="refund" if refund_of is not None else "collection",
            refund_of=refund_of,
            request_key=request_key,
            # a refund: the last digits of the payer's account it pays into
            refund_account_last4=creditor.account_number[-4:] if refund_of is not None else "",
            created_at=now,
            updated_at=now,
        )
    try:
        _create_at_bank(consent=consent)
    except BankRequestRefusedError:
        _set_payment_status(
            payment_pk=payment.pk,
            status=BankPaymentStatus.FAILED,
            failure_code="bank_refused_consent",
        )
        raise
    payment.refresh_from_db()
    return payment


def authorization_url_for(*, consent: BankConsent) -> str:
    """Where to send the customer to authorise the consent at the bank (PKCE S256)."""
    if consent.status != ConsentStatus.AWAITING_AUTHORISATION:
        return ""
    verifier = crypto.open_secret(
        sealed=consent.code_verifier_sealed, field="code_verifier", owner_id=consent.public_id
    )
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return get_connector(bank_code=consent.bank_code).build_authorization_url(
        bank_consent_id=consent.bank_consent_id,
        state=consent.oauth_state,
        code_challenge=challenge,
        redirect_uri=get_redirect_uri(),
    )


# -- the customer comes back ---------------------------------------------------------------


def _store_tokens(*, consent: BankConsent, tokens: Any, now: datetime) -> None:
    consent.access_token_sealed = crypto.seal_secret(
        secret=tokens.access_token, field="access_token", owner_id=consent.public_id
    )
    if tokens.refresh_token:
        consent.refresh_token_sealed = crypto.seal_secret(
            secret=tokens.refresh_token, field="refresh_token", owner_id=consent.public_id
        )
    consent.access_token_expires_at = now + timedelta(seconds=tokens.expires_in)


def complete_authorization(
    *, state: str, code: str | None, error: str | None, now: datetime | None = None
) -> BankConsent:
    """The bank redirected the customer back: exchange the code (PKCE) for tokens, or record
    the rejection; a payment consent's domestic payment is then submitted. Safe to repeat."""
    consent = BankConsent.objects.filter(oauth_state=state).first()
    if consent is None or not state:
        raise ConsentNotFoundError(message="Unknown or expired authorisation state.", param="state")
    if consent.status != ConsentStatus.AWAITING_AUTHORISATION:
        return consent
    if error or not code:
        with transaction.atomic():
            locked = BankConsent.objects.select_for_update().get(pk=consent.pk)
            if (
                locked.status == ConsentStatus.AWAITING_AUTHORISATION
                and locked.code_exchange_started_at is None
            ):
                _set_consent_status(
                    consent=locked, status=ConsentStatus.REJECTED, now=now or get_now()
                )
                locked.failure_code = (error or "access_denied")[:64]
                locked.save()
                _fail_payment_of(consent=locked, code="authorisation_rejected")
        return locked
    claimed = BankConsent.objects.filter(
        pk=consent.pk,
        status=ConsentStatus.AWAITING_AUTHORISATION,
        code_exchange_started_at__isnull=True,
    ).update(code_exchange_started_at=get_now())
    if not claimed:  # the same redirect is being (or was) completed by another request
        consent.refresh_from_db()
        return consent
    verifier = crypto.open_secret(
        sealed=consent.code_verifier_sealed, field="code_verifier", owner_id=consent.public_id
    )
    context = _context()
    try:
        tokens = get_connector(bank_code=consent.bank_code).exchange_code(
            code=code, code_verifier=verifier, redirect_uri=get_redirect_uri(), context=context
        )
    except BankConnectorError as failure:
        reason = "bank_refused_code" if isinstance(failure, BankRefusedError) else "bank_timeout"
        with transaction.atomic():
            locked = _fail_consent(consent_pk=consent.pk, code=reason, now=get_now())
            _fail_payment_of(consent=locked, code=reason)
        return locked
    now = now or get_now()
    with transaction.atomic():
        locked = BankConsent.objects.select_for_update().get(pk=consent.pk)
        if locked.status != ConsentStatus.AWAITING_AUTHORISATION:
            return locked
        _store_tokens(consent=locked, tokens=tokens, now=now)
        locked.last_interaction_id = context.interaction_id
        _set_consent_status(consent=locked, status=ConsentStatus.AUTHORISED, now=now)
        locked.save()
        enqueue_event(
            event_type="open_banking.consent.authorised",
            payload={"consent": locked.public_id, "kind": locked.kind},
            aggregate_type="open_banking_consent",
            aggregate_id=locked.public_id,
            merchant_ref=locked.merchant_ref,
            now=now,
        )
    if locked.kind == "domestic_payment":
        submit_bank_payment(payment_id=BankPayment.objects.get(consent=locked).public_id)
        locked.refresh_from_db()
    return locked


def withdraw_bank_payment(*, payment_id: str, now: datetime | None = None) -> bool:
    """The payer chose another way before authorising at the bank: the payment's consent is
    revoked here, so a code the bank sends back later is never exchanged and nothing is
    submitted, and the payment fails (``canceled_by_payer``). True when the payment can no
    longer be paid (withdrawn now, or its consent already ended without authorisation);
    False, changing nothing, when it is too late: the bank's redirect is being completed
    (its code exchange started) or the payer has authorised it. Under the consent's lock,
    as the redirect's own claim."""
    now = now or get_now()
    payment = BankPayment.objects.filter(public_id=payment_id).first()
    if payment is None:
        return True
    with transaction.atomic():
        consent = BankConsent.objects.select_for_update().get(pk=payment.consent_id)
        if consent.status in NEVER_AUTHORISED_CONSENT_STATUSES:
            return True
        if (
            consent.status != ConsentStatus.AWAITING_AUTHORISATION
            or consent.code_exchange_started_at is not None
        ):
            return False
        _set_consent_status(consent=consent, status=ConsentStatus.REVOKED, now=now)
        consent.failure_code = "canceled_by_payer"
        consent.save()
        _fail_payment_of(consent=consent, code="canceled_by_payer")
    return True


# Consents that ended without the payer's authorisation: nothing can be submitted under them.
NEVER_AUTHORISED_CONSENT_STATUSES = frozenset(
    {ConsentStatus.REJECTED, ConsentStatus.REVOKED, ConsentStatus.EXPIRED, ConsentStatus.FAILED}
)


def _fail_payment_of(*, consent: BankConsent, code: str) -> None:
    payment = BankPayment.objects.select_for_update().filter(consent=consent).first()
    if payment is not None and payment.status == BankPaymentStatus.REQUIRES_ACTION:
        _transition_payment(payment=payment, status=BankPaymentStatus.FAILED, failure_code=code)


# -- tokens --------------------------------------------------------------------------------


def _access_token(*, consent: BankConsent, now: datetime) -> str:
    """The consent's access token, refreshed first when it is (nearly) expired."""
    expires = consent.access_token_expires_at
    if consent.access_token_sealed and expires and expires - TOKEN_REFRESH_MARGIN > now:
        return crypto.open_secret(
            sealed=consent.access_token_sealed, field="access_token", owner_id=consent.public_id
        )
    if not consent.refresh_token_sealed:
        raise ConsentNotUsableError(
            code="consent_not_authorised", message="The consent holds no token."
        )
    refresh_token = crypto.open_secret(
        sealed=consent.refresh_token_sealed, field="refresh_token", owner_id=consent.public_id
    )
    try:
        tokens = get_connector(bank_code=consent.bank_code).refresh_tokens(
            refresh_token=refresh_token, context=_context()
        )
    except BankRefusedError as error:
        raise ConsentNotUsableError(
            code="consent_not_authorised", message="The bank no longer accepts this consent."
        ) from error
    except BankConnectorError as error:
        raise BankUnavailableError() from error
    with transaction.atomic():
        locked = BankConsent.objects.select_for_update().get(pk=consent.pk)
        _store_tokens(consent=locked, tokens=tokens, now=now)
        locked.updated_at = now
        locked.save(
            update_fields=[
                "access_token_sealed",
                "refresh_token_sealed",
                "access_token_expires_at",
                "updated_at",
            ]
        )
    return tokens.access_token


def refresh_consent_tokens(*, consent_pk: int, now: datetime | None = None) -> None:
    """Force a refresh of the consent's tokens (used by tests and the token janitor)."""
    consent = BankConsent.objects.get(pk=consent_pk)
    consent.access_token_expires_at = None
    _access_token(consent=consent, now=now or get_now())


# -- account information -------------------------------------------------------------------


def _read(
    *,
    merchant_id: str,
    mode: str,
    consent_id: str,
    action: str,
    actor: Actor,
    call: Callable[[Any, str, CallContext], T],
) -> T:
    now = get_now()
    consent = require_usable_consent(
        merchant_id=merchant_id,
        mode=mode,
        consent_id=consent_id,
        kind="account_access",
        action=action,
        actor=actor,
        now=now,
    )
    token = _access_token(consent=consent, now=now)
    try:
        return call(get_connector(bank_code=consent.bank_code), token, _context())
    except BankRefusedError as error:
        if error.status in (401, 403):
            raise ConsentNotUsableError(
                code="consent_not_authorised", message="The bank refused this consent."
            ) from error
        if error.status == 400 and "NotFound" in error.code:
            raise ConsentNotFoundError(message="No such account.", param="account") from error
        raise BankRequestRefusedError(message=str(error)) from error
    except BankConnectorError as error:
        raise BankUnavailableError() from error


def read_accounts(
    *, merchant_id: str, mode: str, consent_id: str, actor: Actor = SYSTEM
) -> list[BankAccountInfo]:
    return _read(
        merchant_id=merchant_id,
        mode=mode,
        consent_id=consent_id,
        action="read_accounts",
        actor=actor,
        call=lambda c, token, ctx: c.list_accounts(access_token=token, context=ctx),
    )


def read_balances(
    *, merchant_id: str, mode: str, consent_id: str, account_id: str, actor: Actor = SYSTEM
) -> list[BankBalanceInfo]:
    return _read(
        merchant_id=merchant_id,
        mode=mode,
        consent_id=consent_id,
        action="read_balances",
        actor=actor,
        call=lambda c, token, ctx: c.get_balances(
            access_token=token, account_id=account_id, context=ctx
        ),
    )


def read_transactions(
    *, merchant_id: str, mode: str, consent_id: str, account_id: str, actor: Actor = SYSTEM
) -> list[BankTransactionInfo]:
    return _read(
        merchant_id=merchant_id,
        mode=mode,
        consent_id=consent_id,
        action="read_transactions",
        actor=actor,
        call=lambda c, token, ctx: c.get_transactions(
            access_token=token, account_id=account_id, context=ctx
        ),
    )


def revoke_consent(
    *,
    merchant_id: str,
    mode: str,
    consent_id: str,
    actor: Actor = SYSTEM,
    now: datetime | None = None,
) -> BankConsent:
    """Revoke here first (so nothing uses it from now on), then tell the bank."""
    now = now or get_now()
    with transaction.atomic():
        consent = (
            BankConsent.objects.select_for_update()
            .filter(public_id=consent_id, merchant_ref=merchant_id, mode=mode)
            .first()
        )
        if consent is None:
            raise ConsentNotFoundError(param="consent")
        if consent.status == ConsentStatus.REVOKED:
            return consent
        _set_consent_status(consent=consent, status=ConsentStatus.REVOKED, now=now)
        consent.save()
        _fail_payment_of(consent=consent, code="consent_revoked")
        record_audit_event(
            action="openbanking.consent.revoked",
            actor_type=actor.actor_type,
            actor_id=actor.actor_id,
            object_type="open_banking_consent",
            object_id=consent.public_id,
            merchant_ref=merchant_id,
            ip_address=actor.ip_address,
        )
        enqueue_event(
            event_type="open_banking.consent.revoked",
            payload={"consent": consent.public_id, "kind": consent.kind},
            aggregate_type="open_banking_consent",
            aggregate_id=consent.public_id,
            merchant_ref=merchant_id,
            now=now,
        )
    if consent.kind == "account_access" and consent.bank_consent_id:
        try:
            get_connector(bank_code=consent.bank_code).revoke_account_consent(
                bank_consent_id=consent.bank_consent_id, context=_context()
            )
        except BankConnectorError:
            logger.warning("bank did not confirm the revocation of %s", consent.public_id)
    return consent


# -- domestic payments ---------------------------------------------------------------------


def _transition_payment(
    *,
    payment: BankPayment,
    status: BankPaymentStatus,
    failure_code: str = "",
    result: BankPaymentResult | None = None,
) -> None:
    """The one place a bank payment changes status (caller holds its lock)."""
    now = get_now()
    check_bank_payment_transition(current=payment.status, new=status)
    payment.status = status
    payment.updated_at = now
    if failure_code:
        payment.failure_code = failure_code[:64]
    if result is not None:
        payment.bank_payment_id = result.bank_payment_id
        payment.bank_status = result.status
    payment.save()
    if status in (BankPaymentStatus.SUCCEEDED, BankPaymentStatus.FAILED, BankPaymentStatus.PENDING):
        enqueue_event(
            event_type=f"open_banking.bank_payment.{status.value}",
            payload={
                "bank_payment": payment.public_id,
                "amount": payment.amount_minor,
                "currency": payment.currency,
                "bank_reference": payment.bank_payment_id,
                "failure_code": payment.failure_code,
                "metadata": payment.metadata,
            },
            aggregate_type="bank_payment",
            aggregate_id=payment.public_id,
            merchant_ref=payment.merchant_ref,
            now=now,
        )


def _set_payment_status(
    *, payment_pk: int, status: BankPaymentStatus, failure_code: str = ""
) -> None:
    with transaction.atomic():
        payment = BankPayment.objects.select_for_update().get(pk=payment_pk)
        _transition_payment(payment=payment, status=status, failure_code=failure_code)


def _record_payment_result(*, payment_pk: int, result: BankPaymentResult) -> BankPayment:
    with transaction.atomic():
        payment = BankPayment.objects.select_for_update().get(pk=payment_pk)
        consent = BankConsent.objects.select_for_update().get(pk=payment.consent_id)
        if consent.status == ConsentStatus.AUTHORISED:
            _set_consent_status(consent=consent, status=ConsentStatus.CONSUMED, now=get_now())
            consent.save()
        if result.refund_account and payment.refund_account_sealed is None:
            _keep_refund_account(payment=payment, account=result.refund_account)
        new = bank_payment_status_from_obie(result.status)
        if payment.status == new and payment.bank_status == result.status:
            return payment
        if new == payment.status:
            payment.bank_status = result.status
            payment.save(update_fields=["bank_status"])
            return payment
        if payment.status not in (
            BankPaymentStatus.SUBMITTING,
            BankPaymentStatus.UNKNOWN,
            BankPaymentStatus.PENDING,
        ):
            return payment
        failure = (
            (result.status_reason or "bank_rejected") if new == BankPaymentStatus.FAILED else ""
        )
        _transition_payment(payment=payment, status=new, failure_code=failure, result=result)
        return payment


def _keep_refund_account(*, payment: BankPayment, account: dict[str, str]) -> None:
    """Seal the payer's account the bank shared (ReadRefundAccount) on the payment (caller
    holds its lock); only the last 4 digits stay readable. Never logged."""
    payment.refund_account_sealed = crypto.seal_secret(
        secret=json.dumps(account, sort_keys=True),
        field="refund_account",
        owner_id=payment.public_id,
    )
    payment.refund_account_last4 = account.get("identification", "")[-4:]
    payment.save(update_fields=["refund_account_sealed", "refund_account_last4"])


def _open_refund_account(payment: BankPayment) -> dict[str, str] | None:
    if payment.refund_account_sealed is None:
        return None
    opened: dict[str, str] = json.loads(
        crypto.open_secret(
            sealed=payment.refund_account_sealed,
            field="refund_account",
            owner_id=payment.public_id,
        )
    )
    return opened


def submit_bank_payment(*, payment_id: str) -> BankPayment:
    """Send the domestic payment of an authorised consent, once (reserve → call → record).

    The x-idempotency-key is derived from the payment, so a retry after a lost answer is
    recognised by the bank: a timeout leaves the payment ``unknown`` for
    :func:`sync_bank_payment`, never re-sent under a new key."""
    now = get_now()
    with transaction.atomic():
        payment = BankPayment.objects.select_for_update().filter(public_id=payment_id).first()
        if payment is None:
            raise BankPaymentNotFoundError()
        if payment.status != BankPaymentStatus.REQUIRES_ACTION:
            return payment
        consent = BankConsent.objects.get(pk=payment.consent_id)
        reason = _unusable_reason(consent=consent, now=now)
        if reason is not None:
            _refuse(
                merchant_id=payment.merchant_ref,
                consent_id=consent.public_id,
                reason=reason,
                action="submit_payment",
                actor=SYSTEM,
            )
            _transition_payment(
                payment=payment, status=BankPaymentStatus.FAILED, failure_code=reason
            )
            return payment
        _transition_payment(payment=payment, status=BankPaymentStatus.SUBMITTING)
    return _send_payment(payment=payment, consent=consent, now=now)


def _send_payment(*, payment: BankPayment, consent: BankConsent, now: datetime) -> BankPayment:
    context = _context(idempotency_key=payment.idempotency_key)
    try:
        token = _access_token(consent=consent, now=now)
        result = get_connector(bank_code=consent.bank_code).create_domestic_payment(
            access_token=token,
            bank_consent_id=consent.bank_consent_id,
            initiation=dict(consent.initiation),
            context=context,
        )
    except BankRefusedError as error:
        with transaction.atomic():
            locked = BankPayment.objects.select_for_update().get(pk=payment.pk)
            if locked.status in (BankPaymentStatus.SUBMITTING, BankPaymentStatus.UNKNOWN):
                _transition_payment(
                    payment=locked,
                    status=BankPaymentStatus.FAILED,
                    failure_code=error.code or "bank_refused",
                )
            return locked
    except (BankConnectorError, BankUnavailableError, ConsentNotUsableError):
        with transaction.atomic():
            locked = BankPayment.objects.select_for_update().get(pk=payment.pk)
            if locked.status == BankPaymentStatus.SUBMITTING:
                _transition_payment(payment=locked, status=BankPaymentStatus.UNKNOWN)
            locked.last_interaction_id = context.interaction_id
            locked.save(update_fields=["last_interaction_id"])
            return locked
    BankPayment.objects.filter(pk=payment.pk).update(last_interaction_id=context.interaction_id)
    return _record_payment_result(payment_pk=payment.pk, result=result)


def sync_bank_payment(*, payment_id: str) -> BankPayment:
    """Ask the bank: an ``unknown`` submission is resolved by sending the same request with
    the same x-idempotency-key (the bank answers with the payment it already has, or makes it
    once); a ``pending`` payment by a status query."""
    payment = BankPayment.objects.filter(public_id=payment_id).first()
    if payment is None:
        raise BankPaymentNotFoundError()
    consent = BankConsent.objects.get(pk=payment.consent_id)
    if payment.status == BankPaymentStatus.UNKNOWN:
        return _send_payment(payment=payment, consent=consent, now=get_now())
    if payment.status != BankPaymentStatus.PENDING:
        return payment
    try:
        result = get_connector(bank_code=consent.bank_code).get_domestic_payment(
            bank_payment_id=payment.bank_payment_id, context=_context()
        )
    except BankConnectorError:
        return payment
    return _record_payment_result(payment_pk=payment.pk, result=result)


def sync_open_bank_payments(
    *, older_than: timedelta = timedelta(seconds=5), limit: int = 200
) -> int:
    """The Celery beat job: follow every pending or unknown payment. Returns how many."""
    cutoff = get_now() - older_than
    ids = list(
        BankPayment.objects.filter(
            status__in=[BankPaymentStatus.PENDING, BankPaymentStatus.UNKNOWN],
            updated_at__lte=cutoff,
        )
        .order_by("updated_at")
        .values_list("public_id", flat=True)[:limit]
    )
    for payment_id in ids:
        sync_bank_payment(payment_id=payment_id)
    abandoned_before = get_now() - timedelta(seconds=get_authorization_ttl_seconds())
    refunds_abandoned_before = get_now() - timedelta(seconds=get_refund_authorization_ttl_seconds())
    return (
        len(ids)
        + resolve_creating_consents(cutoff=cutoff, limit=limit)
        + expire_abandoned_consents(created_before=abandoned_before, limit=limit)
        + expire_abandoned_consents(
            created_before=refunds_abandoned_before, limit=limit, refunds=True
        )
    )


def expire_abandoned_consents(
    *, created_before: datetime, limit: int = 200, refunds: bool = False
) -> int:
    """Consents the customer never came back from: expired, their payment failed
    (``authorisation_expired``). A consent whose code exchange has started is left alone.
    Refund payments' consents (authorised by PaymentHub's operations, who may take longer
    than a shopper) are expired by their own pass (``refunds``) with their own time limit."""
    expired = 0
    waiting = BankConsent.objects.filter(
        status=ConsentStatus.AWAITING_AUTHORISATION,
        code_exchange_started_at__isnull=True,
        created_at__lte=created_before,
    )
    if refunds:
        waiting = waiting.filter(payment__purpose="refund")
    else:
        waiting = waiting.exclude(payment__purpose="refund")
    candidates = list(waiting.values_list("pk", flat=True)[:limit])
    for pk in candidates:
        with transaction.atomic():
            consent = BankConsent.objects.select_for_update().get(pk=pk)
            if (
                consent.status != ConsentStatus.AWAITING_AUTHORISATION
                or consent.code_exchange_started_at is not None
            ):
                continue
            _set_consent_status(consent=consent, status=ConsentStatus.EXPIRED, now=get_now())
            consent.failure_code = "authorisation_expired"
            consent.save()
            _fail_payment_of(consent=consent, code="authorisation_expired")
            expired += 1
    return expired


def resolve_creating_consents(*, cutoff: datetime, limit: int = 200) -> int:
    """Consents whose creation at the bank did not answer: ask again with the same
    x-idempotency-key (the bank answers with the consent it already made, or makes it)."""
    consents = list(
        BankConsent.objects.filter(status=ConsentStatus.CREATING, updated_at__lte=cutoff).order_by(
            "updated_at"
        )[:limit]
    )
    for consent in consents:
        try:
            _create_at_bank(consent=consent)
        except (BankUnavailableError, BankRequestRefusedError):
            continue
        if consent.kind == "domestic_payment":
            failed = BankConsent.objects.filter(pk=consent.pk, status=ConsentStatus.FAILED)
            if failed.exists():
                _fail_payment_of_consent(consent_pk=consent.pk, code="bank_refused_consent")
    return len(consents)


def _fail_payment_of_consent(*, consent_pk: int, code: str) -> None:
    with transaction.atomic():
        _fail_payment_of(consent=BankConsent.objects.get(pk=consent_pk), code=code)


def refresh_consent_status(*, consent_id: str) -> BankConsent:
    """Ask the bank for a consent's status and adopt a terminal one (revoked at the bank,
    expired)."""
    consent = BankConsent.objects.get(public_id=consent_id)
    if not consent.bank_consent_id:
        return consent
    connector = get_connector(bank_code=consent.bank_code)
    try:
        if consent.kind == "account_access":
            result = connector.get_account_consent(
                bank_consent_id=consent.bank_consent_id, context=_context()
            )
        else:
            result = connector.get_payment_consent(
                bank_consent_id=consent.bank_consent_id, context=_context()
            )
    except BankConnectorError:
        return consent
    new = OBIE_CONSENT_STATUSES.get(result.status)
    with transaction.atomic():
        locked = BankConsent.objects.select_for_update().get(pk=consent.pk)
        if new is not None and new in CONSENT_TRANSITIONS[ConsentStatus(locked.status)]:
            _set_consent_status(consent=locked, status=new, now=get_now())
            locked.save()
        return locked


# -- refunds: PaymentHub pays a collection's payer back ------------------------------------


def collection_account() -> Creditor:
    account = get_collection_account()
    return Creditor(
        name=account["name"],
        sort_code=account["sort_code"],
        account_number=account["account_number"],
    )


def _refund_creditor(*, original: BankPayment) -> Creditor:
    account = _open_refund_account(original)
    if account is None:
        raise BankRefundNotPossibleError(
            code="refund_account_unavailable",
            message="The bank shared no refund account for this bank payment.",
        )
    identification = account.get("identification", "")
    if account.get("scheme_name") != "UK.OBIE.SortCodeAccountNumber" or not (
        len(identification) == 14 and identification.isdigit()
    ):
        raise BankRefundNotPossibleError(
            code="refund_account_unsupported",
            message="The payer's account is not a UK sort code and account number.",
        )
    return Creditor(
        name=account.get("name", "")[:140] or "Refund",
        sort_code=identification[:6],
        account_number=identification[6:],
    )


def start_refund_payment(
    *,
    merchant_id: str,
    mode: str,
    bank_payment_id: str,
    amount: Money,
    reference: str,
    request_key: str,
    metadata: dict[str, Any] | None = None,
    return_url: str = "",
) -> BankPayment:
    """A domestic payment from PaymentHub's collection account back to the payer of a
    succeeded collection (the account its bank shared), with its own consent, which the
    collection account's holder authorises at the bank (``authorization_url_for``).

    Once per ``request_key``: asked again (a retry, the caller's janitor), it returns the
    payment already started, finishing its consent's creation at the bank with the same
    x-idempotency-key when that answer was lost. The refunds of one collection never exceed
    it (checked under the collection's row lock)."""
    existing = BankPayment.objects.filter(request_key=request_key).first() if request_key else None
    if existing is not None:
        return _resume_refund_start(payment=existing)
    if amount.amount_minor <= 0:
        raise InvalidRequestError(
            code="amount_too_small", message="Amount must be positive.", param="amount"
        )
    with transaction.atomic():
        original = (
            BankPayment.objects.select_for_update()
            .select_related("consent")
            .filter(public_id=bank_payment_id, merchant_ref=merchant_id, mode=mode)
            .first()
        )
        if original is None or original.purpose != "collection":
            raise BankPaymentNotFoundError(param="bank_payment")
        if original.status != BankPaymentStatus.SUCCEEDED:
            raise BankRefundNotPossibleError(
                code="bank_payment_not_succeeded",
                message=f"The bank payment is {original.status}; only a succeeded one is refunded.",
            )
        if amount.currency != original.currency:
            raise InvalidRequestError(
                code="currency_mismatch",
                message="Refund in the payment's currency.",
                param="currency",
            )
        creditor = _refund_creditor(original=original)
    try:
        return create_bank_payment(
            merchant_id=merchant_id,
            mode=mode,
            bank_code=original.consent.bank_code,
            amount=amount,
            creditor=creditor,
            debtor=collection_account(),
            reference=reference,
            return_url=return_url,
            metadata=metadata,
            refund_of=original,
            request_key=request_key,
        )
    except IntegrityError:  # the same request_key started at the same time elsewhere
        existing = BankPayment.objects.filter(request_key=request_key).first()
        if existing is None:
            raise
        return _resume_refund_start(payment=existing)


def _check_refund_room(*, refund_of_pk: int, amount_minor: int) -> None:
    """Under the collection's row lock (held until the refund row is committed): the refunds
    not failed, with this one, stay within what the collection paid."""
    original = BankPayment.objects.select_for_update().get(pk=refund_of_pk)
    committed = sum(
        BankPayment.objects.filter(refund_of=original)
        .exclude(status=BankPaymentStatus.FAILED)
        .values_list("amount_minor", flat=True)
    )
    if committed + amount_minor > original.amount_minor:
        raise BankRefundNotPossibleError(
            code="refund_exceeds_payment",
            message="The refunds would exceed what the bank payment paid.",
        )


def _resume_refund_start(*, payment: BankPayment) -> BankPayment:
    consent = BankConsent.objects.get(pk=payment.consent_id)
    if consent.status == ConsentStatus.CREATING:
        try:
            _create_at_bank(consent=consent)
        except BankRequestRefusedError:
            _fail_payment_of_consent(consent_pk=consent.pk, code="bank_refused_consent")
            raise
    payment.refresh_from_db()
    return payment


def to_minor(*, amount: str, currency: str) -> int:
    return Money.from_decimal_string(amount=str(Decimal(amount)), currency=currency).amount_minor


def _normalise_name(value: str) -> str:
    return " ".join(value.casefold().replace(".", " ").replace(",", " ").split())


def verify_payout_account(
    *,
    merchant_id: str,
    mode: str,
    consent_id: str,
    holder_name: str,
    sort_code: str,
    account_number: str,
    actor: Actor = SYSTEM,
) -> PayoutAccountCheck:
    """Match a payout account against the accounts read through the merchant's consent:
    the number exactly (sort code + account number), the holder name case- and
    punctuation-insensitively. Audited either way."""
    wanted = f"{sort_code}{account_number}".replace("-", "").replace(" ", "")
    accounts = read_accounts(merchant_id=merchant_id, mode=mode, consent_id=consent_id, actor=actor)
    by_number = [a for a in accounts if a.identification == wanted]
    name_ok = any(_normalise_name(a.holder_name) == _normalise_name(holder_name) for a in by_number)
    check = PayoutAccountCheck(
        matches=bool(by_number) and name_ok,
        name_matches=name_ok,
        number_matches=bool(by_number),
        account_id=by_number[0].account_id if by_number else None,
    )
    record_audit_event(
        action="openbanking.payout_account.verified"
        if check.matches
        else "openbanking.payout_account.mismatch",
        actor_type=actor.actor_type,
        actor_id=actor.actor_id,
        object_type="open_banking_consent",
        object_id=consent_id,
        merchant_ref=merchant_id,
        metadata={"name_matches": name_ok, "number_matches": bool(by_number)},
    )
    return check
