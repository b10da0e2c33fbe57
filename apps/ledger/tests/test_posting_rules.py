"""Each posting rule, called through the facade, moves exact amounts."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from apps.common.money import Money
from apps.ledger import facade as ledger
from apps.ledger.errors import InsufficientFundsError, InvalidPostingError
from apps.ledger.models import Account, JournalEntry, Posting
from apps.ledger.tests.factories import make_merchant_id, set_price
from apps.merchants.facade import compute_fee

pytestmark = pytest.mark.usefixtures("default_prices")

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SETTLE_DAY = date(2026, 3, 4)


def eur(amount: int) -> Money:
    return Money(amount_minor=amount, currency="EUR")


def balance_of(owner: str, kind: str, currency: str = "EUR", mode: str = "test") -> int:
    account = Account.objects.filter(owner=owner, mode=mode, kind=kind, currency=currency).first()
    return account.balance.balance_minor if account else 0


def merchant_balances(merchant_id: str, currency: str = "EUR") -> tuple[int, int, int]:
    balance = ledger.get_merchant_balance(merchant_id=merchant_id, mode="test").for_currency(
        currency
    )
    return balance.pending_minor, balance.available_minor, balance.reserve_minor


def capture(merchant_id: str, amount: int, payment: str = "pay_1", **kwargs: object) -> None:
    ledger.post_capture(
        merchant_id=merchant_id,
        mode="test",
        payment_id=f"{payment}_{merchant_id}",
        amount=eur(amount),
        captured_at=NOW,
        **kwargs,  # type: ignore[arg-type]
    )


def settle(merchant_id: str, as_of: date = SETTLE_DAY) -> None:
    ledger.settle_pending_funds(
        merchant_id=merchant_id, mode="test", currency="EUR", as_of=as_of, settled_at=NOW
    )


def test_a_capture_books_gross_receivable_net_pending_and_the_fee():
    merchant = make_merchant_id()
    result = ledger.post_capture(
        merchant_id=merchant, mode="test", payment_id="pay_a", amount=eur(10_000), captured_at=NOW
    )
    # 2.9 % of 100.00 = 2.90, + 0.30 fixed = 3.20
    assert (result.gross_minor, result.fee_minor, result.net_minor) == (10_000, 320, 9_680)
    assert result.available_on == date(2026, 3, 4)  # default payout delay: 2 days
    assert balance_of("platform", "processor_receivable") == -10_000
    assert balance_of("platform", "platform_fee_revenue") == 320
    assert merchant_balances(merchant) == (9_680, 0, 0)
    posting = Posting.objects.get(account__owner=merchant)
    assert posting.available_on == date(2026, 3, 4)


def test_the_capture_fee_is_rounded_half_even_once_exactly_as_the_merchants_app_computes_it():
    merchant = make_merchant_id()
    set_price(merchant_id=merchant, currency="EUR", percentage="1.25", fixed_fee_minor=0)
    for index, amount in enumerate((2, 6, 10, 14, 1_234, 99_999)):
        result = ledger.post_capture(
            merchant_id=merchant,
            mode="test",
            payment_id=f"pay_round_{index}",
            amount=eur(amount),
            captured_at=NOW,
        )
        expected = compute_fee(merchant_id=merchant, amount=eur(amount), payment_method="card")
        assert result.fee_minor == expected.amount_minor
    # 1.25 % of 0.02 = 0.025 → 0.02 (half-even); of 0.06 = 0.075 → 0.08
    assert (
        ledger.post_capture(
            merchant_id=merchant,
            mode="test",
            payment_id="pay_round_0",
            amount=eur(2),
            captured_at=NOW,
        ).fee_minor
        == 0
    )


def test_the_same_capture_posted_twice_moves_money_once():
    merchant = make_merchant_id()
    first = ledger.post_capture(
        merchant_id=merchant, mode="test", payment_id="pay_twice", amount=eur(500), captured_at=NOW
    )
    second = ledger.post_capture(
        merchant_id=merchant, mode="test", payment_id="pay_twice", amount=eur(500), captured_at=NOW
    )
    assert first.entry.created
    assert not second.entry.created
    assert first.entry.entry_id == second.entry.entry_id
    assert JournalEntry.objects.filter(cause_id="pay_twice").count() == 1
    set_price(merchant_id=merchant, currency="EUR", percentage="9", fixed_fee_minor=0)
    ledger.clear_pricing_cache()
    third = ledger.post_capture(
        merchant_id=merchant, mode="test", payment_id="pay_twice", amount=eur(500), captured_at=NOW
    )
    assert (third.fee_minor, third.net_minor) == (first.fee_minor, first.net_minor) == (44, 456)
    assert merchant_balances(merchant) == (
        500 - 44,
        0,
        0,
    )  # 2.9 % of 5.00 = 0.145 → 0.14 (half-even), + 0.30


def test_a_capture_whose_fee_exceeds_the_amount_leaves_a_negative_net():
    merchant = make_merchant_id()
    result = ledger.post_capture(
        merchant_id=merchant, mode="test", payment_id="pay_tiny", amount=eur(10), captured_at=NOW
    )
    assert (result.fee_minor, result.net_minor) == (30, -20)
    assert merchant_balances(merchant) == (-20, 0, 0)


def test_settlement_moves_matured_pending_funds_to_available_once():
    merchant = make_merchant_id()
    capture(merchant, 10_000, "pay_early")
    capture(merchant, 5_000, "pay_late", available_on=date(2026, 3, 10))
    settle(merchant, as_of=date(2026, 3, 3))  # nothing matured yet
    assert merchant_balances(merchant) == (9_680 + 4_825, 0, 0)
    settle(merchant)
    settle(merchant)  # the same day again: already settled
    assert merchant_balances(merchant) == (4_825, 9_680, 0)
    settle(merchant, as_of=date(2026, 3, 10))
    assert merchant_balances(merchant) == (0, 9_680 + 4_825, 0)
    assert JournalEntry.objects.filter(rule="settlement").count() == 2


def test_a_capture_maturing_on_an_already_settled_day_is_settled_by_the_next_run():
    merchant = make_merchant_id()
    capture(merchant, 10_000, "pay_first")
    settle(merchant)
    capture(merchant, 5_000, "pay_after", available_on=SETTLE_DAY)
    settle(merchant)
    assert merchant_balances(merchant) == (0, 9_680 + 4_825, 0)
    assert (
        JournalEntry.objects.filter(rule="settlement", cause_type="settlement_batch").count() == 2
    )


def test_a_full_refund_takes_the_whole_amount_and_keeps_the_fee():
    merchant = make_merchant_id()
    capture(merchant, 10_000)
    settle(merchant)
    ledger.post_refund(
        merchant_id=merchant,
        mode="test",
        refund_id="re_full",
        payment_id="pay_1",
        amount=eur(10_000),
        refunded_at=NOW,
    )
    # the merchant got 96.80 and gives back 100.00: the 3.20 fee is not returned
    assert merchant_balances(merchant) == (0, -320, 0)
    assert balance_of("platform", "refunds_clearing") == 10_000
    assert balance_of("platform", "platform_fee_revenue") == 320
    ledger.post_refund_paid(mode="test", refund_id="re_full", amount=eur(10_000), paid_at=NOW)
    assert balance_of("platform", "refunds_clearing") == 0
    assert balance_of("platform", "processor_receivable") == 0


def test_a_refund_that_fails_after_it_was_paid_comes_back_from_the_processor():
    merchant = make_merchant_id()
    capture(merchant, 10_000)
    settle(merchant)
    ledger.post_refund(
        merchant_id=merchant,
        mode="test",
        refund_id="re_back",
        payment_id="pay_1",
        amount=eur(4_000),
        refunded_at=NOW,
    )
    ledger.post_refund_paid(mode="test", refund_id="re_back", amount=eur(4_000), paid_at=NOW)

    ledger.post_refund_failed(
        merchant_id=merchant, mode="test", refund_id="re_back", amount=eur(4_000), failed_at=NOW
    )

    # clearing was emptied by the payment and is not taken below zero by the failure
    assert balance_of("platform", "refunds_clearing") == 0
    assert balance_of("platform", "processor_receivable") == -10_000
    assert merchant_balances(merchant) == (0, 9_680, 0)


def test_a_refund_that_fails_before_it_was_paid_leaves_refunds_clearing():
    merchant = make_merchant_id()
    capture(merchant, 10_000)
    settle(merchant)
    ledger.post_refund(
        merchant_id=merchant,
        mode="test",
        refund_id="re_unpaid",
        payment_id="pay_1",
        amount=eur(4_000),
        refunded_at=NOW,
    )

    ledger.post_refund_failed(
        merchant_id=merchant, mode="test", refund_id="re_unpaid", amount=eur(4_000), failed_at=NOW
    )

    assert balance_of("platform", "refunds_clearing") == 0
    assert balance_of("platform", "processor_receivable") == -10_000
    assert merchant_balances(merchant) == (0, 9_680, 0)


def test_a_partial_refund_takes_only_the_refunded_amount():
    merchant = make_merchant_id()
    capture(merchant, 10_000)
    settle(merchant)
    ledger.post_refund(
        merchant_id=merchant,
        mode="test",
        refund_id="re_part",
        payment_id="pay_1",
        amount=eur(2_500),
        refunded_at=NOW,
    )
    assert merchant_balances(merchant) == (0, 9_680 - 2_500, 0)
    assert balance_of("platform", "platform_fee_revenue") == 320


def test_a_negative_balance_is_carried_and_recovered_from_later_captures():
    merchant = make_merchant_id()
    capture(merchant, 1_000)
    settle(merchant)
    ledger.post_refund(
        merchant_id=merchant,
        mode="test",
        refund_id="re_neg",
        payment_id="pay_1",
        amount=eur(3_000),
        refunded_at=NOW,
    )
    assert merchant_balances(merchant) == (0, 941 - 3_000, 0)
    with pytest.raises(InsufficientFundsError):
        ledger.post_payout_created(
            merchant_id=merchant, mode="test", payout_id="po_neg", amount=eur(1), created_at=NOW
        )
    capture(merchant, 10_000, "pay_2", available_on=date(2026, 3, 5))
    settle(merchant, as_of=date(2026, 3, 5))
    assert merchant_balances(merchant) == (0, 941 - 3_000 + 9_680, 0)


def test_a_dispute_withdraws_the_amount_and_a_won_dispute_reinstates_it():
    merchant = make_merchant_id()
    capture(merchant, 10_000)
    settle(merchant)
    ledger.post_dispute_opened(
        merchant_id=merchant, mode="test", dispute_id="dp_1", amount=eur(10_000), opened_at=NOW
    )
    assert merchant_balances(merchant) == (0, -320, 0)
    assert balance_of("platform", "processor_receivable") == 0
    ledger.post_dispute_won(
        merchant_id=merchant, mode="test", dispute_id="dp_1", amount=eur(10_000), won_at=NOW
    )
    assert merchant_balances(merchant) == (0, 9_680, 0)
    assert balance_of("platform", "processor_receivable") == -10_000


def test_a_lost_dispute_charges_the_dispute_fee():
    merchant = make_merchant_id()
    capture(merchant, 10_000)
    settle(merchant)
    ledger.post_dispute_opened(
        merchant_id=merchant, mode="test", dispute_id="dp_2", amount=eur(10_000), opened_at=NOW
    )
    ledger.post_dispute_lost(
        merchant_id=merchant,
        mode="test",
        dispute_id="dp_2",
        amount=eur(10_000),
        dispute_fee=eur(1_500),
        lost_at=NOW,
    )
    assert merchant_balances(merchant) == (0, -320 - 1_500, 0)
    assert balance_of("platform", "platform_fee_revenue") == 320 + 1_500


def test_a_lost_dispute_the_platform_absorbs_makes_the_merchant_whole_from_dispute_losses():
    merchant = make_merchant_id()
    capture(merchant, 10_000)
    settle(merchant)
    ledger.post_dispute_opened(
        merchant_id=merchant, mode="test", dispute_id="dp_3", amount=eur(4_000), opened_at=NOW
    )
    ledger.post_dispute_lost(
        merchant_id=merchant,
        mode="test",
        dispute_id="dp_3",
        amount=eur(4_000),
        dispute_fee=eur(1_500),
        lost_at=NOW,
        absorbed_by_platform=True,
    )
    assert merchant_balances(merchant) == (0, 9_680, 0)
    assert balance_of("platform", "dispute_losses") == -4_000


def test_a_payout_goes_through_transit_to_paid():
    merchant = make_merchant_id()
    capture(merchant, 10_000)
    settle(merchant)
    ledger.post_payout_created(
        merchant_id=merchant, mode="test", payout_id="po_1", amount=eur(9_000), created_at=NOW
    )
    assert merchant_balances(merchant) == (0, 680, 0)
    assert balance_of("platform", "payouts_in_transit") == 9_000
    ledger.post_payout_paid(
        merchant_id=merchant, mode="test", payout_id="po_1", amount=eur(9_000), paid_at=NOW
    )
    assert balance_of("platform", "payouts_in_transit") == 0
    assert balance_of("platform", "processor_receivable") == -1_000


def test_a_failed_payout_returns_the_funds_to_available():
    merchant = make_merchant_id()
    capture(merchant, 10_000)
    settle(merchant)
    ledger.post_payout_created(
        merchant_id=merchant, mode="test", payout_id="po_2", amount=eur(9_680), created_at=NOW
    )
    ledger.post_payout_failed(
        merchant_id=merchant, mode="test", payout_id="po_2", amount=eur(9_680), failed_at=NOW
    )
    assert merchant_balances(merchant) == (0, 9_680, 0)
    assert balance_of("platform", "payouts_in_transit") == 0


def test_a_payout_larger_than_the_available_balance_is_refused_and_moves_nothing():
    merchant = make_merchant_id()
    capture(merchant, 10_000)  # pending, not yet available
    entries = JournalEntry.objects.count()
    with pytest.raises(InsufficientFundsError):
        ledger.post_payout_created(
            merchant_id=merchant, mode="test", payout_id="po_3", amount=eur(1), created_at=NOW
        )
    assert JournalEntry.objects.count() == entries
    assert merchant_balances(merchant) == (9_680, 0, 0)


def test_a_reserve_is_held_from_available_and_released_back():
    merchant = make_merchant_id()
    capture(merchant, 10_000)
    settle(merchant)
    ledger.hold_reserve(
        merchant_id=merchant, mode="test", reserve_id="rsv_1", amount=eur(2_000), held_at=NOW
    )
    assert merchant_balances(merchant) == (0, 7_680, 2_000)
    with pytest.raises(InsufficientFundsError):
        ledger.hold_reserve(
            merchant_id=merchant, mode="test", reserve_id="rsv_2", amount=eur(7_681), held_at=NOW
        )
    ledger.release_reserve(
        merchant_id=merchant, mode="test", reserve_id="rsv_1", amount=eur(2_000), released_at=NOW
    )
    assert merchant_balances(merchant) == (0, 9_680, 0)


def test_two_merchants_may_hold_reserves_under_the_same_id():
    alice, bob = make_merchant_id(), make_merchant_id()
    for merchant in (alice, bob):
        capture(merchant, 10_000)
        settle(merchant)

    for merchant, amount in ((alice, 1_000), (bob, 3_000)):
        ledger.hold_reserve(
            merchant_id=merchant, mode="test", reserve_id="rolling", amount=eur(amount), held_at=NOW
        )

    assert merchant_balances(alice) == (0, 8_680, 1_000)
    assert merchant_balances(bob) == (0, 6_680, 3_000)
    ledger.release_reserve(
        merchant_id=bob, mode="test", reserve_id="rolling", amount=eur(3_000), released_at=NOW
    )
    assert merchant_balances(alice) == (0, 8_680, 1_000)
    assert merchant_balances(bob) == (0, 9_680, 0)


def test_a_reserve_shows_and_filters_by_the_id_it_was_held_under():
    merchant, other = make_merchant_id(), make_merchant_id()
    for owner in (merchant, other):
        capture(owner, 10_000)
        settle(owner)
        ledger.hold_reserve(
            merchant_id=owner, mode="test", reserve_id="rsv_1", amount=eur(1_000), held_at=NOW
        )

    page = ledger.list_balance_transactions(merchant_id=merchant, mode="test", limit=100)
    filtered = ledger.list_balance_transactions(
        merchant_id=merchant, mode="test", source_id="rsv_1", limit=100
    )

    reserves = [t for t in page.transactions if t.source_type == "reserve"]
    assert {t.source_id for t in reserves} == {"rsv_1"}
    assert len(reserves) == 2  # available -1000 and reserve +1000
    assert {t.transaction_id for t in filtered.transactions} == {t.transaction_id for t in reserves}


def test_a_reserve_is_released_once():
    merchant = make_merchant_id()
    capture(merchant, 10_000)
    settle(merchant)
    ledger.hold_reserve(
        merchant_id=merchant, mode="test", reserve_id="rsv_once", amount=eur(1_000), held_at=NOW
    )
    first = ledger.release_reserve(
        merchant_id=merchant, mode="test", reserve_id="rsv_once", amount=eur(400), released_at=NOW
    )
    again = ledger.release_reserve(
        merchant_id=merchant, mode="test", reserve_id="rsv_once", amount=eur(400), released_at=NOW
    )
    assert again.entry_id == first.entry_id  # the same request again: nothing more moves
    with pytest.raises(InvalidPostingError):
        ledger.release_reserve(
            merchant_id=merchant,
            mode="test",
            reserve_id="rsv_once",
            amount=eur(600),
            released_at=NOW,
        )
    assert merchant_balances(merchant) == (0, 9_680 - 600, 600)


def test_a_release_frees_only_what_its_own_hold_holds():
    merchant, other = make_merchant_id(), make_merchant_id()
    for owner in (merchant, other):
        capture(owner, 10_000)
        settle(owner)
    for reserve_id in ("rsv_a", "rsv_b"):
        ledger.hold_reserve(
            merchant_id=merchant, mode="test", reserve_id=reserve_id, amount=eur(1_000), held_at=NOW
        )
    ledger.hold_reserve(
        merchant_id=other, mode="test", reserve_id="rsv_other", amount=eur(500), held_at=NOW
    )

    with pytest.raises(InvalidPostingError) as more:
        ledger.release_reserve(
            merchant_id=merchant,
            mode="test",
            reserve_id="rsv_a",
            amount=eur(2_000),
            released_at=NOW,
        )
    assert more.value.param == "amount"
    for reserve_id, mode in (("rsv_never", "test"), ("rsv_other", "test"), ("rsv_a", "live")):
        with pytest.raises(InvalidPostingError) as unknown:
            ledger.release_reserve(
                merchant_id=merchant,
                mode=mode,
                reserve_id=reserve_id,
                amount=eur(100),
                released_at=NOW,
            )
        assert unknown.value.param == "reserve_id"
    with pytest.raises(InvalidPostingError):
        ledger.hold_reserve(
            merchant_id=merchant, mode="test", reserve_id="r" * 65, amount=eur(1), held_at=NOW
        )
    assert merchant_balances(merchant) == (0, 7_680, 2_000)
    assert merchant_balances(other) == (0, 9_180, 500)


def test_live_and_test_money_live_in_separate_accounts():
    merchant = make_merchant_id()
    capture(merchant, 10_000)
    ledger.post_capture(
        merchant_id=merchant, mode="live", payment_id="pay_live", amount=eur(500), captured_at=NOW
    )
    assert (
        ledger.get_merchant_balance(merchant_id=merchant, mode="live")
        .for_currency("EUR")
        .pending_minor
        == 500 - 44
    )
    assert merchant_balances(merchant) == (9_680, 0, 0)


@pytest.mark.parametrize("amount", [0, -100])
def test_non_positive_amounts_are_refused(amount):
    merchant = make_merchant_id()
    with pytest.raises(InvalidPostingError):
        capture(merchant, amount)
    assert not JournalEntry.objects.exists()
