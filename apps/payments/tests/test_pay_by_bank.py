"""Pay by bank through the payments API, end to end over HTTP against the sandbox bank run as
its own process: create → ``requires_action`` with the bank's authorization URL → the shopper
approves or rejects at the bank → the bank's redirect into PaymentHub's callback → the outbox
and the sync job bring the payment to succeeded (captured, booked in the ledger, the bank's
reference kept) or failed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.apps import apps
from django.test import Client
from django.utils import timezone

from apps.common.models import OutboxEvent
from apps.common.outbox import relay_outbox_until_empty
from apps.ledger.facade import clear_pricing_cache
from apps.payments.api.serializers import PaymentSerializer
from apps.payments.bank_payments import sync_open_bank_payments
from apps.payments.models import Payment, PaymentAttempt
from apps.payments.services import resolve_unknown_attempt
from apps.payments.tests.api_helpers import make_merchant_with_key, make_token, post_json
from apps.payments.tests.sandbox_bank import bank_settings, decide_at_bank, run_sandbox_bank
from paymenthub.celery import app as celery_app

pytestmark = pytest.mark.django_db(transaction=True)
RETURN_URL = "https://shop.example/order/7/return"


@pytest.fixture(scope="module")
def sandbox_bank() -> Iterator[str]:
    yield from run_sandbox_bank()


@pytest.fixture
def bank(sandbox_bank: str, settings) -> str:
    for name, value in bank_settings(bank_url=sandbox_bank).items():
        setattr(settings, name, value)
    return sandbox_bank


@pytest.fixture
def eager_celery() -> Iterator[None]:
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def price(*, merchant_id: str | None, method: str, currency: str, percent: str, fixed: int):
    Merchant = apps.get_model("merchants", "Merchant")
    apps.get_model("merchants", "PriceListEntry").objects.update_or_create(
        merchant=Merchant.objects.get(public_id=merchant_id) if merchant_id else None,
        currency=currency,
        payment_method=method,
        defaults={
            "percentage": Decimal(percent),
            "fixed_fee_minor": fixed,
            "updated_at": timezone.now(),
        },
    )
    clear_pricing_cache()


@pytest.fixture
def shop() -> tuple[str, Client]:
    merchant_id, client = make_merchant_with_key()
    price(merchant_id=merchant_id, method="open_banking", currency="GBP", percent="1.0", fixed=20)
    return merchant_id, client


def create_bank_payment(client: Client, *, amount: int = 4999, key: str = "k1", **extra):
    body = {
        "amount": amount,
        "currency": "GBP",
        "payment_method_types": ["pay_by_bank"],
        "payment_method_data": {"type": "pay_by_bank", "pay_by_bank": {"bank": "sandbox"}},
        "return_url": RETURN_URL,
        "confirm": True,
        **extra,
    }
    return post_json(client, "/v1/payments", body, **{"Idempotency-Key": key})


def shopper_comes_back(bank_redirect: str) -> dict[str, str]:
    """The bank's redirect reaches PaymentHub's callback, which sends the shopper on to the
    merchant's return_url."""
    answer = Client().get(urlsplit(bank_redirect).path + "?" + urlsplit(bank_redirect).query)
    assert answer.status_code == 302
    assert answer["Location"].startswith(RETURN_URL + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(answer["Location"]).query).items()}


class TestPayByBankOverTheApi:
    def test_an_approved_bank_payment_is_captured_and_booked_with_the_banks_reference(
        self, bank, shop, eager_celery
    ):
        _, client = shop
        created = create_bank_payment(client)
        assert created.status_code == 200, created.content
        body = created.json()
        assert body["status"] == "requires_action"
        assert body["payment_method_type"] == "pay_by_bank"
        assert body["next_action"]["type"] == "redirect_to_url"
        assert body["next_action"]["url"].startswith(bank + "/authorize?")
        assert body["pay_by_bank"]["bank"] == "sandbox"
        assert PaymentSerializer(body).data == body  # the body is exactly the documented shape

        back = shopper_comes_back(decide_at_bank(body["next_action"]["url"]))
        assert back["bank_payment"] == body["pay_by_bank"]["bank_payment"]
        relay_outbox_until_empty()  # open_banking.bank_payment.pending → payments follows
        assert client.get(f"/v1/payments/{body['id']}").json()["status"] == "processing"

        assert sync_open_bank_payments(older_than=timedelta(0)) == 1  # the beat job
        done = client.get(f"/v1/payments/{body['id']}").json()
        assert done["status"] == "succeeded"
        assert done["amount_received"] == 4999
        assert done["next_action"] is None
        reference = done["pay_by_bank"]["bank_reference"]
        assert reference.startswith("dp-")
        assert PaymentSerializer(done).data == done

        payment = Payment.objects.get(public_id=body["id"])
        assert payment.processor_reference == reference
        entry = apps.get_model("ledger", "JournalEntry").objects.get(
            rule="capture", cause_id=body["id"]
        )
        fees = apps.get_model("ledger", "Posting").objects.filter(
            entry=entry, account__kind="platform_fee_revenue"
        )
        assert [p.amount_minor for p in fees] == [70]  # the open_banking price: 1 % + 20
        assert list(
            OutboxEvent.objects.filter(aggregate_id=body["id"])
            .order_by("id")
            .values_list("event_type", flat=True)
        ) == [
            "payment.created",
            "payment.requires_action",
            "payment.processing",  # authorised at the bank, which was still paying it
            "payment.succeeded",
        ]
        # following it again changes nothing (the beat job and the outbox may both arrive)
        assert sync_open_bank_payments(older_than=timedelta(0)) == 0
        assert (
            apps.get_model("ledger", "JournalEntry").objects.filter(cause_id=body["id"]).count()
            == 1
        )

    def test_a_rejected_bank_payment_fails_with_a_clear_code(self, bank, shop, eager_celery):
        _, client = shop
        body = create_bank_payment(client).json()
        back = shopper_comes_back(decide_at_bank(body["next_action"]["url"], decision="reject"))
        assert back["bank_payment_status"] == "failed"
        relay_outbox_until_empty()  # open_banking.bank_payment.failed → payments records it
        failed = client.get(f"/v1/payments/{body['id']}").json()
        assert failed["status"] == "failed"
        assert failed["last_payment_error"]["code"] == "bank_authorization_rejected"
        assert failed["next_action"] is None
        assert (
            not apps.get_model("ledger", "JournalEntry")
            .objects.filter(cause_id=body["id"])
            .exists()
        )
        assert OutboxEvent.objects.filter(
            aggregate_id=body["id"], event_type="payment.failed"
        ).exists()

    def test_the_bank_is_chosen_at_confirmation_when_not_given_at_creation(
        self, bank, shop, eager_celery
    ):
        _, client = shop
        created = post_json(
            client,
            "/v1/payments",
            {"amount": 1200, "currency": "GBP", "payment_method_types": ["pay_by_bank"]},
            **{"Idempotency-Key": "c1"},
        ).json()
        assert created["status"] == "requires_payment_method"
        confirmed = post_json(
            client,
            f"/v1/payments/{created['id']}/confirm",
            {
                "payment_method_data": {"type": "pay_by_bank", "pay_by_bank": {"bank": "sandbox"}},
                "return_url": RETURN_URL,
            },
            **{"Idempotency-Key": "c2"},
        )
        assert confirmed.status_code == 200, confirmed.content
        assert confirmed.json()["status"] == "requires_action"
        assert confirmed.json()["next_action"]["url"].startswith(bank + "/authorize?")


class TestPayByBankRefusals:
    def test_an_unknown_bank_is_a_400_naming_the_field(self, bank, shop):
        _, client = shop
        answer = create_bank_payment(
            client,
            payment_method_data={"type": "pay_by_bank", "pay_by_bank": {"bank": "nobank"}},
        )
        assert answer.status_code == 400
        error = answer.json()["error"]
        assert (error["code"], error["param"]) == (
            "bank_not_supported",
            "payment_method_data[pay_by_bank][bank]",
        )
        assert not Payment.objects.exists()

    def test_a_merchant_without_a_bank_price_cannot_take_bank_payments(self, bank):
        _, client = make_merchant_with_key()
        answer = create_bank_payment(client)
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "currency_not_supported"

    def test_pay_by_bank_needs_a_return_url_when_confirming(self, bank, shop):
        _, client = shop
        answer = create_bank_payment(client, return_url="")
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "return_url_required"

    def test_a_card_is_refused_when_the_types_allow_only_pay_by_bank(self, bank, shop):
        merchant_id, client = shop
        answer = post_json(
            client,
            "/v1/payments",
            {
                "amount": 100,
                "currency": "GBP",
                "payment_method_types": ["pay_by_bank"],
                "payment_method": make_token(merchant_id=merchant_id),
            },
            **{"Idempotency-Key": "t1"},
        )
        assert answer.status_code == 400
        assert answer.json()["error"]["param"] == "payment_method_types"

    def test_an_unreachable_bank_fails_the_payment_without_an_authorization_url(
        self, shop, settings
    ):
        _, client = shop
        settings.OPENBANKING_BANKS = bank_settings(bank_url="http://127.0.0.1:9")[
            "OPENBANKING_BANKS"
        ]
        settings.OPENBANKING_HTTP_TIMEOUT_SECONDS = 1
        answer = create_bank_payment(client)
        assert answer.status_code == 200, answer.content
        assert answer.json()["status"] == "failed"
        assert answer.json()["last_payment_error"]["code"] == "bank_unavailable"
        assert answer.json()["next_action"] is None

    def test_the_janitor_fails_a_bank_start_whose_process_died(self, bank, shop):
        _, client = shop
        created = post_json(
            client,
            "/v1/payments",
            {
                "amount": 500,
                "currency": "GBP",
                "payment_method_data": {"type": "pay_by_bank", "pay_by_bank": {"bank": "sandbox"}},
            },
            **{"Idempotency-Key": "j1"},
        ).json()
        payment = Payment.objects.get(public_id=created["id"])
        # what a crash between the reservation and the bank call leaves behind
        Payment.objects.filter(pk=payment.pk).update(status="processing", connector="open_banking")
        attempt = PaymentAttempt.objects.create(
            public_id="att_crashedbankstart000000",
            payment=payment,
            kind="authorize",
            status="reserved",
            connector="open_banking",
            created_at=timezone.now(),
        )
        assert resolve_unknown_attempt(attempt_id=attempt.public_id) == "failed"
        payment.refresh_from_db()
        assert (payment.status, payment.failure_code) == ("failed", "bank_unavailable")


class TestCancelingABankPaymentWaitingForThePayer:
    def test_withdraws_it_at_the_bank_so_approving_it_later_pays_nothing(self, bank, shop):
        from apps.openbanking import facade as openbanking

        merchant_id, client = shop
        waiting = create_bank_payment(client).json()
        assert waiting["status"] == "requires_action"

        def at_the_bank():
            return openbanking.get_bank_payment(
                merchant_id=merchant_id,
                mode="test",
                bank_payment_id=waiting["pay_by_bank"]["bank_payment"],
            )

        canceled = post_json(client, f"/v1/payments/{waiting['id']}/cancel", {})

        assert canceled.json()["status"] == "canceled"
        assert (at_the_bank().status, at_the_bank().failure_code) == (
            "failed",
            "canceled_by_payer",
        )
        shopper_url = waiting["next_action"]["url"]
        Client().get(urlsplit(decide_at_bank(shopper_url)).path)  # the bank tab, still open
        assert at_the_bank().status == "failed"  # nothing was submitted

    def test_that_reached_the_bank_after_the_first_read_is_refused_not_canceled_unwithdrawn(
        self, bank, shop, monkeypatch
    ):
        from apps.common.errors import OperationInFlightError
        from apps.payments import services

        merchant_id, client = shop
        waiting = create_bank_payment(client).json()
        # the cancel's first read sees it before it reached the bank ...
        Payment.objects.filter(public_id=waiting["id"]).update(status="requires_confirmation")
        lock = services._lock_payment

        def reaches_the_bank_meanwhile(**kwargs):
            Payment.objects.filter(public_id=waiting["id"]).update(status="requires_action")
            return lock(**kwargs)

        monkeypatch.setattr(services, "_lock_payment", reaches_the_bank_meanwhile)

        with pytest.raises(OperationInFlightError):
            services.cancel_payment(merchant_id=merchant_id, mode="test", payment_id=waiting["id"])

        assert Payment.objects.get(public_id=waiting["id"]).status != "canceled"
        monkeypatch.undo()
        Payment.objects.filter(public_id=waiting["id"]).update(status="requires_action")
        retried = services.cancel_payment(
            merchant_id=merchant_id, mode="test", payment_id=waiting["id"]
        )
        assert retried.status == "canceled"
