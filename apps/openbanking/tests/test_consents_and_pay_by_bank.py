"""Consents, account information and domestic payments through the OBIE v4.0 connector,
against the sandbox bank over HTTP (every exchange validated against the OpenAPI files)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.common.models import AuditEvent, OutboxEvent
from apps.common.money import Money
from apps.openbanking import services
from apps.openbanking.errors import (
    BankRequestRefusedError,
    ConsentNotFoundError,
    ConsentNotUsableError,
)
from apps.openbanking.models import BankConsent, BankPayment
from apps.openbanking.sandbox.bank import BankError
from apps.openbanking.tests.conftest import approve_at_bank

pytestmark = pytest.mark.django_db
MERCHANT = "mch_openbankingA0000000000000"
OTHER = "mch_openbankingB0000000000000"
CREDITOR = services.Creditor(name="Shop Ltd", sort_code="600000", account_number="99998888")


def connect(bank, *, merchant_id: str = MERCHANT) -> BankConsent:
    consent = services.create_account_access_consent(
        merchant_id=merchant_id, mode="test", bank_code="sandbox", return_url="https://shop/x"
    )
    redirect = approve_at_bank(services.authorization_url_for(consent=consent))
    return services.complete_authorization(
        state=redirect["state"], code=redirect["code"], error=None
    )


def pay(bank, *, amount: int = 1250) -> BankPayment:
    return services.create_bank_payment(
        merchant_id=MERCHANT,
        mode="test",
        bank_code="sandbox",
        amount=Money(amount, "GBP"),
        creditor=CREDITOR,
        reference="Order 42",
        return_url="https://shop/return",
        metadata={"payment": "pay_123"},
    )


def refusals(consent_id: str) -> list[dict]:
    return list(
        AuditEvent.objects.filter(
            action="openbanking.consent.refused", object_id=consent_id
        ).values_list("metadata", flat=True)
    )


class TestAccountAccessConsent:
    def test_an_approved_consent_reads_accounts_balances_and_transactions(self, bank):
        consent = connect(bank)
        assert consent.status == "authorised"
        accounts = services.read_accounts(
            merchant_id=MERCHANT, mode="test", consent_id=consent.public_id
        )
        assert [a.holder_name for a in accounts] == ["Alice Smith", "Alice Smith"]
        balances = services.read_balances(
            merchant_id=MERCHANT,
            mode="test",
            consent_id=consent.public_id,
            account_id=accounts[0].account_id,
        )
        assert (balances[0].amount, balances[0].currency) == ("2500.00", "GBP")
        transactions = services.read_transactions(
            merchant_id=MERCHANT,
            mode="test",
            consent_id=consent.public_id,
            account_id=accounts[0].account_id,
        )
        assert transactions[0].description == "Opening balance"

    def test_every_bank_call_carries_an_interaction_id_and_an_idempotency_key(self, bank):
        connect(bank)
        assert bank.bank.requests
        for record in bank.bank.requests:
            if record["path"] == "/authorize":
                continue  # the customer's browser, not PaymentHub
            assert record["headers"].get("x-fapi-interaction-id"), record["path"]
            assert record["headers"].get("x-idempotency-key"), record["path"]

    def test_tokens_are_sealed_at_rest_and_refresh(self, bank):
        consent = connect(bank)
        [token] = [t for t in bank.bank.tokens.values() if t.consent_id]
        stored = BankConsent.objects.get(pk=consent.pk)
        assert token.value.encode() not in bytes(stored.access_token_sealed)
        assert token.value.encode() not in bytes(stored.refresh_token_sealed)
        services.refresh_consent_tokens(consent_pk=consent.pk)
        refreshed = BankConsent.objects.get(pk=consent.pk)
        assert refreshed.access_token_sealed != stored.access_token_sealed
        assert services.read_accounts(
            merchant_id=MERCHANT, mode="test", consent_id=consent.public_id
        )

    def test_a_rejected_consent_is_recorded_as_rejected(self, bank):
        consent = services.create_account_access_consent(
            merchant_id=MERCHANT, mode="test", bank_code="sandbox", return_url="https://shop/x"
        )
        redirect = approve_at_bank(
            services.authorization_url_for(consent=consent), decision="reject"
        )
        result = services.complete_authorization(
            state=redirect["state"], code=None, error=redirect["error"]
        )
        assert result.status == "rejected"


class TestConsentSafety:
    def test_a_revoked_consent_is_refused_before_any_bank_request_and_audited(self, bank):
        consent = connect(bank)
        services.revoke_consent(merchant_id=MERCHANT, mode="test", consent_id=consent.public_id)
        assert bank.bank.consents[consent.bank_consent_id].status == "CANC"
        calls = len(bank.bank.requests)
        with pytest.raises(ConsentNotUsableError) as refused:
            services.read_accounts(merchant_id=MERCHANT, mode="test", consent_id=consent.public_id)
        assert refused.value.code == "consent_revoked"
        assert len(bank.bank.requests) == calls
        assert refusals(consent.public_id) == [
            {"reason": "consent_revoked", "attempted": "read_accounts"}
        ]

    def test_an_expired_consent_is_refused_marked_expired_and_audited(self, bank):
        consent = connect(bank)
        BankConsent.objects.filter(pk=consent.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        calls = len(bank.bank.requests)
        with pytest.raises(ConsentNotUsableError) as refused:
            services.read_balances(
                merchant_id=MERCHANT,
                mode="test",
                consent_id=consent.public_id,
                account_id="acc-alice-current",
            )
        assert refused.value.code == "consent_expired"
        assert len(bank.bank.requests) == calls
        assert BankConsent.objects.get(pk=consent.pk).status == "expired"
        assert refusals(consent.public_id)[0]["reason"] == "consent_expired"

    def test_someone_elses_consent_is_not_found_before_any_bank_request_and_audited(self, bank):
        consent = connect(bank)
        calls = len(bank.bank.requests)
        with pytest.raises(ConsentNotFoundError):
            services.read_accounts(merchant_id=OTHER, mode="test", consent_id=consent.public_id)
        assert len(bank.bank.requests) == calls
        entry = AuditEvent.objects.get(action="openbanking.consent.refused")
        assert (entry.merchant_ref, entry.metadata["reason"]) == (OTHER, "not_found")


class TestPayByBank:
    def test_an_approved_payment_is_submitted_once_and_settles(self, bank):
        payment = pay(bank)
        assert payment.status == "requires_action"
        assert payment.consent.status == "awaiting_authorisation"
        url = services.authorization_url_for(consent=payment.consent)
        redirect = approve_at_bank(url)
        services.complete_authorization(state=redirect["state"], code=redirect["code"], error=None)
        payment.refresh_from_db()
        assert (payment.status, payment.bank_status) == ("pending", "PDNG")
        assert payment.consent.status == "consumed"
        # the redirect arriving twice changes nothing
        services.complete_authorization(state=redirect["state"], code=redirect["code"], error=None)
        assert len(bank.bank.payments) == 1
        synced = services.sync_bank_payment(payment_id=payment.public_id)
        assert (synced.status, synced.bank_status) == ("succeeded", "ACSC")
        assert synced.bank_payment_id in bank.bank.payments
        assert bank.bank.accounts["acc-alice-current"].balance == 2487.5
        events = list(
            OutboxEvent.objects.filter(aggregate_id=payment.public_id)
            .order_by("id")
            .values_list("event_type", flat=True)
        )
        assert events == [
            "open_banking.bank_payment.pending",
            "open_banking.bank_payment.succeeded",
        ]
        succeeded = OutboxEvent.objects.get(event_type="open_banking.bank_payment.succeeded")
        assert succeeded.payload["metadata"] == {"payment": "pay_123"}
        assert succeeded.payload["bank_reference"] == synced.bank_payment_id

    def test_a_rejected_authorisation_fails_the_payment_without_paying(self, bank):
        payment = pay(bank)
        redirect = approve_at_bank(
            services.authorization_url_for(consent=payment.consent), decision="reject"
        )
        services.complete_authorization(state=redirect["state"], code=None, error=redirect["error"])
        payment.refresh_from_db()
        assert (payment.status, payment.failure_code) == ("failed", "authorisation_rejected")
        assert bank.bank.payments == {}

    def test_insufficient_funds_fail_the_payment_with_the_banks_reason(self, bank):
        payment = pay(bank)
        redirect = approve_at_bank(
            services.authorization_url_for(consent=payment.consent), username="bob"
        )
        services.complete_authorization(state=redirect["state"], code=redirect["code"], error=None)
        synced = services.sync_bank_payment(payment_id=payment.public_id)
        assert (synced.status, synced.failure_code) == ("failed", "AM04")

    def test_a_timeout_leaves_the_payment_unknown_and_the_same_key_resolves_it_once(
        self, bank, settings
    ):
        payment = pay(bank)
        redirect = approve_at_bank(services.authorization_url_for(consent=payment.consent))
        settings.OPENBANKING_HTTP_TIMEOUT_SECONDS = 0.5
        bank.bank.delays.append(("/domestic-payments", 1.5))
        services.complete_authorization(state=redirect["state"], code=redirect["code"], error=None)
        payment.refresh_from_db()
        assert payment.status == "unknown"
        assert len(bank.bank.payments) == 1  # the bank did make it
        resolved = services.sync_bank_payment(payment_id=payment.public_id)
        assert resolved.status == "pending"
        assert len(bank.bank.payments) == 1  # and made it once
        keys = {
            r["headers"]["x-idempotency-key"]
            for r in bank.bank.requests
            if r["path"].endswith("/domestic-payments")
        }
        assert keys == {payment.idempotency_key}
        assert services.sync_bank_payment(payment_id=payment.public_id).status == "succeeded"

    def test_the_sync_job_follows_pending_payments(self, bank):
        payment = pay(bank)
        redirect = approve_at_bank(services.authorization_url_for(consent=payment.consent))
        services.complete_authorization(state=redirect["state"], code=redirect["code"], error=None)
        assert services.sync_open_bank_payments(older_than=timedelta(0)) == 1
        payment.refresh_from_db()
        assert payment.status == "succeeded"

    def test_a_payment_in_another_currency_is_refused_before_any_bank_request(self, bank):
        from apps.common.errors import InvalidRequestError

        with pytest.raises(InvalidRequestError):
            services.create_bank_payment(
                merchant_id=MERCHANT,
                mode="test",
                bank_code="sandbox",
                amount=Money(100, "EUR"),
                creditor=CREDITOR,
                reference="x",
                return_url="https://shop/r",
            )
        assert bank.bank.requests == []


class TestPayoutAccountVerification:
    def test_the_holder_name_and_number_must_both_match(self, bank):
        consent = connect(bank)
        ok = services.verify_payout_account(
            merchant_id=MERCHANT,
            mode="test",
            consent_id=consent.public_id,
            holder_name="alice  SMITH",
            sort_code="20-00-00",
            account_number="12345678",
        )
        assert ok.matches
        wrong_name = services.verify_payout_account(
            merchant_id=MERCHANT,
            mode="test",
            consent_id=consent.public_id,
            holder_name="Mallory",
            sort_code="200000",
            account_number="12345678",
        )
        assert (wrong_name.matches, wrong_name.number_matches) == (False, True)
        wrong_number = services.verify_payout_account(
            merchant_id=MERCHANT,
            mode="test",
            consent_id=consent.public_id,
            holder_name="Alice Smith",
            sort_code="200000",
            account_number="00000000",
        )
        assert not wrong_number.matches


class TestConsentCreationTimeout:
    def test_a_payment_consent_creation_that_timed_out_is_resolved_with_the_same_key(
        self, bank, settings
    ):
        settings.OPENBANKING_HTTP_TIMEOUT_SECONDS = 0.5
        bank.bank.delays.append(("/domestic-payment-consents", 1.5))
        from apps.openbanking.errors import BankUnavailableError

        with pytest.raises(BankUnavailableError):
            pay(bank)
        consent = BankConsent.objects.get()
        assert consent.status == "creating"
        assert len(bank.bank.consents) == 1  # the bank did make it
        settings.OPENBANKING_HTTP_TIMEOUT_SECONDS = 5
        services.resolve_creating_consents(cutoff=timezone.now())
        consent.refresh_from_db()
        assert consent.status == "awaiting_authorisation"
        assert consent.bank_consent_id in bank.bank.consents
        assert len(bank.bank.consents) == 1  # and made it once
        assert services.authorization_url_for(consent=consent)


class TestAbandonedAuthorisation:
    def test_a_consent_never_authorised_expires_and_fails_its_payment(self, bank, settings):
        payment = pay(bank)
        settings.OPENBANKING_AUTHORIZATION_TTL_SECONDS = 0
        services.sync_open_bank_payments(older_than=timedelta(0))
        payment.refresh_from_db()
        assert payment.consent.status == "expired"
        assert (payment.status, payment.failure_code) == ("failed", "authorisation_expired")


@pytest.mark.django_db(transaction=True)
class TestTheRedirectArrivingTwiceAtOnce:
    def test_the_code_is_exchanged_once_and_the_payment_made_once(self, bank):
        import threading

        from django.db import connection

        payment = pay(bank)
        redirect = approve_at_bank(services.authorization_url_for(consent=payment.consent))
        barrier = threading.Barrier(4)
        errors: list[BaseException] = []

        def arrive() -> None:
            try:
                barrier.wait()
                services.complete_authorization(
                    state=redirect["state"], code=redirect["code"], error=None
                )
            except BaseException as error:
                errors.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=arrive) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        exchanges = [
            r
            for r in bank.bank.requests
            if r["path"] == "/token" and b"authorization_code" in r["body"]
        ]
        assert len(exchanges) == 1
        assert len(bank.bank.payments) == 1
        payment.refresh_from_db()
        assert payment.status == "pending"


def count_requests(bank, *, path_end: str) -> int:
    return sum(1 for record in bank.bank.requests if record["path"].endswith(path_end))


class TestClientCredentialsTokens:
    def test_a_bank_that_forgot_the_cached_token_is_asked_for_a_new_one_and_the_call_goes_through(
        self, bank
    ):
        pay(bank)
        bank.bank.tokens.clear()  # the bank restarted (or revoked it) before the token expired
        tokens_before = count_requests(bank, path_end="/token")

        payment = pay(bank)

        assert payment.status == "requires_action"
        assert count_requests(bank, path_end="/token") == tokens_before + 1
        assert count_requests(bank, path_end="/domestic-payment-consents") == 3  # 1, then 401 + 1

    def test_a_new_token_the_bank_refuses_too_is_the_banks_answer_after_one_more_try(
        self, bank, monkeypatch
    ):
        pay(bank)
        tokens_before = count_requests(bank, path_end="/token")
        consents_before = count_requests(bank, path_end="/domestic-payment-consents")

        def refuse_every_token(**_: object) -> None:
            raise BankError(401, "UK.OBIE.Header.Invalid", "Invalid or expired token.")

        monkeypatch.setattr(bank.bank, "check_token", refuse_every_token)
        with pytest.raises(BankRequestRefusedError):
            pay(bank)

        assert count_requests(bank, path_end="/token") == tokens_before + 1
        assert count_requests(bank, path_end="/domestic-payment-consents") == consents_before + 2
