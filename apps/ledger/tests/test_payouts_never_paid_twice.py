"""A payout is paid once, and only to an active merchant: a payout whose rail answer was lost
is asked about before anything else is decided for it (never failed and its funds returned
while the rail pays it), one payout the rail cannot answer about does not stop the others,
and a suspended merchant's manual payout is refused as its scheduled one is skipped."""

from __future__ import annotations

import pytest
from django.apps import apps

from apps.ledger import facade as ledger
from apps.ledger.errors import MerchantNotPayableError
from apps.ledger.models import Payout, SimulatedPayout
from apps.ledger.payout_rail.base import RailTimeoutError
from apps.ledger.payout_rail.registry import get_payout_rail
from apps.ledger.payout_rail.simulator import (
    SimulatorPayoutRail,
    clear_payout_rail_fault,
    set_payout_rail_fault,
)
from apps.ledger.payouts import (
    create_due_payouts,
    follow_in_transit_payouts,
    release_payout_account,
)
from apps.ledger.pricing import clear_pricing_cache
from apps.ledger.tests.payout_helpers import (
    NOW,
    PAYOUT_DAY,
    balances,
    give_bank_account,
    payable_merchant,
    settle_capture,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean():
    clear_pricing_cache()
    clear_payout_rail_fault()
    yield
    clear_payout_rail_fault()


def test_a_payout_whose_answer_was_lost_is_not_failed_when_the_account_changes_after():
    merchant, _net = payable_merchant(interval="daily")
    set_payout_rail_fault(fault="timeout_after")  # the rail accepts it, the answer is lost
    create_due_payouts(payout_date=PAYOUT_DAY, now=NOW)
    payout = Payout.objects.get(merchant_id=merchant)
    assert (payout.status, payout.rail_state) == ("pending", "unknown")
    assert SimulatedPayout.objects.filter(idempotency_key=payout.public_id).exists()

    # later that day: a new account (released by two staff), new funds, the run again
    new_account = give_bank_account(merchant, account_number="87654321")
    release_payout_account(
        merchant_id=merchant,
        mode="test",
        account_id=new_account,
        approval_id="apr_1",
        released_by="ops",
        now=NOW,
    )
    second_net = settle_capture(merchant, f"pay_{merchant}_2", 5_000)
    create_due_payouts(payout_date=PAYOUT_DAY, now=NOW)

    payout.refresh_from_db()
    rail = get_payout_rail(name="simulator").retrieve_payout(idempotency_key=payout.public_id)
    assert rail.outcome == "paid"  # the rail paid it to the old account
    assert payout.status != "failed", payout.failure_code
    assert balances(merchant)[1] == second_net  # not also handed back to available


def test_one_payout_the_rail_cannot_answer_about_does_not_stop_the_others(monkeypatch):
    first, _ = payable_merchant()
    second, net = payable_merchant(account_number="12340002")  # returned: account_closed
    create_due_payouts(payout_date=PAYOUT_DAY, now=NOW)
    stuck = Payout.objects.get(merchant_id=first)
    real_retrieve = SimulatorPayoutRail.retrieve_payout

    def retrieve(self, *, idempotency_key):
        if idempotency_key == stuck.public_id:
            raise RailTimeoutError("read timeout")
        return real_retrieve(self, idempotency_key=idempotency_key)

    monkeypatch.setattr(SimulatorPayoutRail, "retrieve_payout", retrieve)

    follow_in_transit_payouts()

    assert Payout.objects.get(merchant_id=second).status == "failed"
    assert balances(second)[1] == net  # the returned payout's money is back
    assert Payout.objects.get(pk=stuck.pk).status == "in_transit"  # asked again next run


def test_a_suspended_merchant_cannot_take_a_manual_payout():
    merchant, net = payable_merchant(interval="manual")
    apps.get_model("merchants", "Merchant").objects.filter(public_id=merchant).update(
        status="suspended"
    )

    with pytest.raises(MerchantNotPayableError):
        ledger.create_manual_payout(merchant_id=merchant, mode="test")

    assert not Payout.objects.filter(merchant_id=merchant).exists()
    assert balances(merchant)[1] == net
