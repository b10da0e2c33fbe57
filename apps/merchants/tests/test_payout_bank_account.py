"""The payout bank account: stored sealed, read masked, unverified (and audited) on change."""

from __future__ import annotations

import pytest
from django.db import connection

from apps.common.models import AuditEvent
from apps.merchants.facade import (
    get_payout_bank_account,
    record_payout_bank_account_verification,
    reveal_payout_destination,
    set_payout_bank_account,
)
from apps.merchants.models import PayoutBankAccount
from apps.merchants.payout_accounts import (
    InvalidPayoutBankAccountError,
    PayoutBankAccountNotFoundError,
)
from apps.merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


def _merchant() -> str:
    return str(MerchantFactory.create().public_id)


def _set(merchant: str, number: str = "12345678"):
    return set_payout_bank_account(
        merchant_id=merchant,
        mode="test",
        holder_name="Alice Smith",
        sort_code="20-00-00",
        account_number=number,
        actor_type="user",
        actor_id="usr_1",
    )


class TestPayoutBankAccount:
    def test_the_account_number_is_sealed_at_rest_and_masked_in_reads(self):
        merchant = _merchant()
        summary = _set(merchant)
        assert (summary.sort_code, summary.masked_number) == ("200000", "****5678")
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM merchants_payout_bank_account")
            raw = repr(cursor.fetchall())
        assert "12345678" not in raw
        assert "12345678" not in repr(summary)
        destination = reveal_payout_destination(merchant_id=merchant, mode="test")
        assert destination is not None
        assert destination.account_number == "12345678"
        assert "12345678" not in repr(destination)

    def test_a_verification_for_the_current_account_verifies_it(self):
        merchant = _merchant()
        summary = _set(merchant)
        assert not summary.is_verified
        verified = record_payout_bank_account_verification(
            merchant_id=merchant,
            mode="test",
            account_id=summary.account_id,
            consent_id="obc_1",
            matched=True,
        )
        assert verified.is_verified
        assert verified.verified_consent_id == "obc_1"

    def test_changing_the_account_unverifies_it_and_is_audited(self):
        merchant = _merchant()
        first = _set(merchant)
        record_payout_bank_account_verification(
            merchant_id=merchant,
            mode="test",
            account_id=first.account_id,
            consent_id="obc_1",
            matched=True,
        )
        second = _set(merchant, number="87654321")
        assert second.account_id != first.account_id
        assert not second.is_verified
        current = get_payout_bank_account(merchant_id=merchant, mode="test")
        assert current is not None
        assert not current.is_verified
        change = AuditEvent.objects.get(action="merchants.payout_account.changed")
        assert change.metadata["before"]["number"] == "****5678"
        assert change.metadata["after"]["number"] == "****4321"
        assert "87654321" not in repr(change.metadata)
        assert PayoutBankAccount.objects.count() == 1

    def test_a_verification_of_the_old_details_cannot_verify_the_new_ones(self):
        merchant = _merchant()
        first = _set(merchant)
        _set(merchant, number="87654321")
        with pytest.raises(PayoutBankAccountNotFoundError):
            record_payout_bank_account_verification(
                merchant_id=merchant,
                mode="test",
                account_id=first.account_id,
                consent_id="obc_1",
                matched=True,
            )

    @pytest.mark.parametrize(
        ("sort_code", "number", "iban", "param"),
        [
            ("2000", "12345678", "", "sort_code"),
            ("200000", "123", "", "account_number"),
            ("", "", "GB00WEST12345698765432", "iban"),
        ],
    )
    def test_invalid_details_are_refused(self, sort_code, number, iban, param):
        with pytest.raises(InvalidPayoutBankAccountError) as error:
            set_payout_bank_account(
                merchant_id=_merchant(),
                mode="test",
                holder_name="Alice Smith",
                sort_code=sort_code,
                account_number=number,
                iban=iban,
            )
        assert error.value.param == param

    def test_an_iban_is_accepted(self):
        summary = set_payout_bank_account(
            merchant_id=_merchant(),
            mode="test",
            holder_name="Alice Smith",
            iban="GB82 WEST 1234 5698 7654 32",
        )
        assert (summary.scheme, summary.account_last4) == ("iban", "5432")
