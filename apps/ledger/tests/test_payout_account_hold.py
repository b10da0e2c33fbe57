"""Payouts to a recently changed bank account are held until a four-eyes release (the back
office's approval calls release_payout_account); a first account is never held."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.common.errors import NotFoundError
from apps.common.models import AuditEvent
from apps.ledger import facade as ledger
from apps.ledger.models import Payout
from apps.ledger.payout_rail.simulator import clear_payout_rail_fault
from apps.ledger.payouts import create_due_payouts, follow_in_transit_payouts
from apps.ledger.tests.payout_helpers import (
    PAYOUT_DAY,
    give_bank_account,
    payable_merchant,
    settle_capture,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_rail_faults():
    clear_payout_rail_fault()


def _paid_then_changed() -> tuple[str, str]:
    """A merchant paid out once to its first account, whose account then changed (and was
    verified just now); more funds are available. Returns (merchant, new account id)."""
    merchant, _ = payable_merchant()
    now = timezone.now()
    assert create_due_payouts(payout_date=PAYOUT_DAY, now=now).created == 1
    follow_in_transit_payouts()
    new_account = give_bank_account(merchant, account_number="55556666")
    settle_capture(merchant, f"pay_{merchant}_2", 5_000)
    return merchant, new_account


class TestChangedAccountHold:
    def test_a_first_account_is_paid_without_a_hold(self):
        payable_merchant()
        assert create_due_payouts(payout_date=PAYOUT_DAY, now=timezone.now()).created == 1

    def test_a_payout_to_a_changed_account_is_held_with_the_reason_recorded(self):
        merchant, new_account = _paid_then_changed()
        report = create_due_payouts(payout_date=PAYOUT_DAY + timedelta(days=1), now=timezone.now())
        assert report.created == 0
        [skip] = report.skipped
        assert skip.reason == "payout_account_change_held"
        assert not Payout.objects.filter(destination_ref=new_account).exists()
        assert ledger.get_held_payout_account(merchant_id=merchant, mode="test") == new_account

    def test_a_released_account_is_paid_by_the_next_run_and_the_release_is_audited(self):
        merchant, new_account = _paid_then_changed()
        assert ledger.release_payout_account(
            merchant_id=merchant,
            mode="test",
            account_id=new_account,
            approval_id="apr_test",
            released_by="42",
        )
        report = create_due_payouts(payout_date=PAYOUT_DAY + timedelta(days=1), now=timezone.now())
        assert report.created == 1
        assert Payout.objects.filter(destination_ref=new_account).exists()
        audit = AuditEvent.objects.get(action="ledger.payout_account.released")
        assert audit.metadata == {"mode": "test", "approval_id": "apr_test"}

    def test_the_hold_lapses_after_the_configured_days(self, settings):
        settings.PAYOUTS_CHANGED_ACCOUNT_HOLD_DAYS = 7
        _merchant, new_account = _paid_then_changed()
        later = timezone.now() + timedelta(days=8)
        assert create_due_payouts(payout_date=later.date(), now=later).created == 1
        assert Payout.objects.filter(destination_ref=new_account).exists()

    def test_a_release_of_details_that_changed_again_is_refused(self):
        merchant, new_account = _paid_then_changed()
        give_bank_account(merchant, account_number="77778888")
        with pytest.raises(NotFoundError):
            ledger.release_payout_account(
                merchant_id=merchant,
                mode="test",
                account_id=new_account,
                approval_id="apr_test",
                released_by="42",
            )
