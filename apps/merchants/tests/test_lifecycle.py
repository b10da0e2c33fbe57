"""The merchant lifecycle through the services only: applied → in_review → active, rejected,
suspended, reinstated, more information requested; every change audited with its reason and
actor, forbidden changes refused with nothing changed."""

from datetime import date
from decimal import Decimal

import pytest

from apps.common.models import AuditEvent, OutboxEvent
from apps.merchants import services
from apps.merchants.api_keys import InvalidApiKeyError, authenticate_api_key, create_api_key
from apps.merchants.contracts import BeneficialOwnerInput, SanctionsScreeningResult
from apps.merchants.errors import (
    InvalidMerchantDataError,
    InvalidMerchantTransitionError,
    MerchantNotFoundError,
)
from apps.merchants.models import (
    Merchant,
    MerchantMembership,
    MerchantStatus,
    MerchantStatusChange,
)
from apps.merchants.states import MERCHANT_TRANSITIONS, MerchantAction
from apps.merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

STAFF = {"actor_type": "admin", "actor_id": "42"}


def _apply(**overrides):
    data = {
        "email": "Owner@Bottega.example",
        "password": "a long enough passphrase",
        "legal_name": "Bottega Rossi S.r.l.",
        "trading_name": "Bottega Rossi",
        "country": "IT",
        "settlement_currency": "EUR",
        "support_email": "help@bottega.example",
        "beneficial_owners": [
            BeneficialOwnerInput(
                full_name="Maria Rossi",
                date_of_birth=date(1980, 5, 1),
                nationality="IT",
                ownership_percent=Decimal("100"),
            )
        ],
    }
    data.update(overrides)
    return services.apply_for_merchant_account(**data)


def _status(merchant_id: str) -> str:
    return Merchant.objects.get(public_id=merchant_id).status


class TestApplyForMerchantAccount:
    def test_creates_an_applied_merchant_with_its_owner_and_beneficial_owners(
        self, django_capture_on_commit_callbacks, mailoutbox
    ):
        with django_capture_on_commit_callbacks(execute=True):
            merchant = _apply()
        assert merchant.status == MerchantStatus.APPLIED
        membership = MerchantMembership.objects.get(merchant__public_id=merchant.public_id)
        assert (membership.user.email, membership.role) == ("owner@bottega.example", "owner")
        row = Merchant.objects.get(public_id=merchant.public_id)
        assert row.beneficial_owners.get().full_name == "Maria Rossi"
        assert [m.to for m in mailoutbox] == [["owner@bottega.example"]]
        assert AuditEvent.objects.filter(
            action="merchant.sanctions_screened", object_id=merchant.public_id
        ).exists()

    def test_emails_are_plain_text_never_html_escaped(
        self, django_capture_on_commit_callbacks, mailoutbox
    ):
        with django_capture_on_commit_callbacks(execute=True):
            _apply(trading_name="Rossi & Figli", legal_name="Rossi & Figli <S.r.l.>")
        (message,) = mailoutbox
        assert message.subject == "We received the application of Rossi & Figli"
        assert "Rossi & Figli <S.r.l.>" in message.body
        assert "&amp;" not in message.body

    def test_refuses_a_short_password_and_creates_nothing(self):
        with pytest.raises(InvalidMerchantDataError) as excinfo:
            _apply(password="short")
        assert excinfo.value.param == "password"
        assert not Merchant.objects.exists()

    def test_refuses_an_email_that_already_has_an_account(self):
        _apply()
        with pytest.raises(InvalidMerchantDataError) as excinfo:
            _apply(legal_name="Another S.r.l.")
        assert excinfo.value.param == "email"
        assert Merchant.objects.count() == 1


class TestTestModeRightAwayLiveModeOnlyWhenActive:
    def test_a_test_key_works_right_after_applying(self):
        merchant = _apply()
        key = create_api_key(merchant_id=merchant.public_id, mode="test", key_type="secret")
        assert authenticate_api_key(raw_key=key.secret).merchant_id == merchant.public_id

    @pytest.mark.parametrize("status", ["applied", "in_review", "rejected", "suspended"])
    def test_a_live_key_is_refused_until_the_merchant_is_active(self, status):
        merchant = MerchantFactory.create(status="applied")
        key = create_api_key(merchant_id=merchant.public_id, mode="live", key_type="secret")
        Merchant.objects.filter(pk=merchant.pk).update(status=status)
        with pytest.raises(InvalidApiKeyError):
            authenticate_api_key(raw_key=key.secret)

    def test_the_same_live_key_works_once_approved(self):
        merchant = _apply()
        key = create_api_key(merchant_id=merchant.public_id, mode="live", key_type="secret")
        services.start_merchant_review(merchant_id=merchant.public_id, **STAFF)
        services.approve_merchant(merchant_id=merchant.public_id, **STAFF)
        assert authenticate_api_key(raw_key=key.secret).mode == "live"

    def test_the_api_answers_401_in_the_envelope_for_a_live_key_of_an_applicant(self, client):
        merchant = _apply()
        key = create_api_key(merchant_id=merchant.public_id, mode="live", key_type="secret")
        response = client.get("/v1/account", headers={"Authorization": f"Bearer {key.secret}"})
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "authentication_error"

    def test_a_suspended_merchant_loses_test_mode_too(self):
        merchant = MerchantFactory.create(status="active")
        key = create_api_key(merchant_id=merchant.public_id, mode="test", key_type="secret")
        Merchant.objects.filter(pk=merchant.pk).update(status="suspended")
        with pytest.raises(InvalidApiKeyError):
            authenticate_api_key(raw_key=key.secret)


class TestTheHappyPath:
    def test_applied_to_in_review_to_active_is_recorded_with_reasons_and_actors(
        self, django_capture_on_commit_callbacks, mailoutbox
    ):
        merchant = _apply()
        with django_capture_on_commit_callbacks(execute=True):
            services.start_merchant_review(merchant_id=merchant.public_id, **STAFF)
            approved = services.approve_merchant(
                merchant_id=merchant.public_id, reason="documents verified", **STAFF
            )
        assert approved.status == "active"
        assert _status(merchant.public_id) == "active"
        history = list(
            MerchantStatusChange.objects.filter(merchant__public_id=merchant.public_id)
            .order_by("id")
            .values_list("from_status", "to_status", "reason", "actor_type", "actor_id")
        )
        assert history == [
            ("applied", "in_review", "", "admin", "42"),
            ("in_review", "active", "documents verified", "admin", "42"),
        ]
        audits = AuditEvent.objects.filter(
            action="merchant.status_changed", object_id=merchant.public_id
        ).order_by("sequence")
        assert [(a.metadata["from"], a.metadata["to"], a.actor_id) for a in audits] == [
            ("applied", "in_review", "42"),
            ("in_review", "active", "42"),
        ]
        assert audits.last().metadata["reason"] == "documents verified"
        assert audits.last().metadata["sanctions_outcome"] == "not_screened"
        assert (
            OutboxEvent.objects.filter(
                event_type="merchant.status_changed", aggregate_id=merchant.public_id
            ).count()
            == 2
        )
        subjects = [message.subject for message in mailoutbox]
        assert "Your PaymentHub application is being reviewed" in subjects
        assert "Bottega Rossi is approved: live mode is on" in subjects
        assert all("owner@bottega.example" in message.to for message in mailoutbox)


class TestOtherDecisions:
    @pytest.fixture
    def in_review(self):
        merchant = _apply()
        services.start_merchant_review(merchant_id=merchant.public_id, **STAFF)
        return merchant

    def test_reject_needs_a_reason_and_is_final(
        self, in_review, django_capture_on_commit_callbacks, mailoutbox
    ):
        with pytest.raises(InvalidMerchantDataError) as excinfo:
            services.reject_merchant(merchant_id=in_review.public_id, reason="  ", **STAFF)
        assert excinfo.value.param == "reason"
        assert _status(in_review.public_id) == "in_review"
        with django_capture_on_commit_callbacks(execute=True):
            services.reject_merchant(
                merchant_id=in_review.public_id, reason="unsupported business", **STAFF
            )
        assert _status(in_review.public_id) == "rejected"
        assert "Reason: unsupported business" in mailoutbox[-1].body
        for action in MerchantAction:
            with pytest.raises(InvalidMerchantTransitionError):
                services.transition_merchant(
                    merchant_id=in_review.public_id, action=action, reason="x", **STAFF
                )
        assert _status(in_review.public_id) == "rejected"

    def test_requesting_information_sends_the_application_back_with_the_question(
        self, in_review, django_capture_on_commit_callbacks, mailoutbox
    ):
        with django_capture_on_commit_callbacks(execute=True):
            services.request_merchant_information(
                merchant_id=in_review.public_id, reason="Upload a bank statement.", **STAFF
            )
        assert _status(in_review.public_id) == "applied"
        assert "Upload a bank statement." in mailoutbox[-1].body
        change = MerchantStatusChange.objects.filter(merchant__public_id=in_review.public_id)
        assert change.order_by("id").last().reason == "Upload a bank statement."

    def test_suspend_and_reinstate_an_active_merchant(self, in_review):
        services.approve_merchant(merchant_id=in_review.public_id, **STAFF)
        services.suspend_merchant(
            merchant_id=in_review.public_id, reason="chargeback ratio", **STAFF
        )
        assert _status(in_review.public_id) == "suspended"
        services.reinstate_merchant(
            merchant_id=in_review.public_id, reason="ratio back to normal", **STAFF
        )
        assert _status(in_review.public_id) == "active"
        reasons = AuditEvent.objects.filter(
            action="merchant.status_changed", object_id=in_review.public_id
        ).values_list("metadata__reason", flat=True)
        assert {"chargeback ratio", "ratio back to normal"} <= set(reasons)

    def test_approval_is_refused_on_a_sanctions_hit(self, in_review, monkeypatch):
        monkeypatch.setattr(
            services,
            "screen_merchant_for_sanctions",
            lambda *, merchant_id: SanctionsScreeningResult(
                merchant_id=merchant_id, outcome="hit", provider="test"
            ),
        )
        with pytest.raises(services.StateError) as excinfo:
            services.approve_merchant(merchant_id=in_review.public_id, **STAFF)
        assert excinfo.value.code == "sanctions_hit"
        assert _status(in_review.public_id) == "in_review"
        hit = AuditEvent.objects.get(
            action="merchant.sanctions_screened", metadata__stage="approval"
        )
        assert (hit.metadata["outcome"], hit.object_id) == ("hit", in_review.public_id)
        assert not MerchantStatusChange.objects.filter(to_status="active").exists()

    def test_an_unknown_merchant_is_a_404(self):
        with pytest.raises(MerchantNotFoundError):
            services.start_merchant_review(merchant_id="mch_missing", **STAFF)


FORBIDDEN = [
    (status, action)
    for status in MerchantStatus
    for action in MerchantAction
    if (status, action) not in MERCHANT_TRANSITIONS
]


class TestForbiddenTransitions:
    @pytest.mark.parametrize(("status", "action"), FORBIDDEN)
    def test_are_refused_with_a_409_and_change_nothing(self, status, action):
        merchant = MerchantFactory.create(status=status)
        audits_before = AuditEvent.objects.count()
        with pytest.raises(InvalidMerchantTransitionError) as excinfo:
            services.transition_merchant(
                merchant_id=merchant.public_id, action=action, reason="because", **STAFF
            )
        assert excinfo.value.http_status == 409
        assert excinfo.value.to_envelope()["error"]["code"] == "invalid_merchant_transition"
        assert _status(merchant.public_id) == status
        assert not MerchantStatusChange.objects.exists()
        assert AuditEvent.objects.count() == audits_before
        assert not OutboxEvent.objects.exists()

    def test_an_unknown_action_is_a_domain_error_not_a_crash(self):
        merchant = MerchantFactory.create(status="applied")
        with pytest.raises(InvalidMerchantTransitionError):
            services.transition_merchant(merchant_id=merchant.public_id, action="delete", **STAFF)
        assert _status(merchant.public_id) == "applied"
