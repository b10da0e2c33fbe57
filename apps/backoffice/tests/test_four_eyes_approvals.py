"""Four-eyes approvals: refunds above the threshold are proposed by one staff member and
approved by another, never the proposer; a proposal executes once, expires, can be rejected."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.utils import timezone

from apps.backoffice import approvals
from apps.backoffice.models import ApprovalRequest
from apps.backoffice.tests.helpers import log_in, make_merchant, make_payment
from apps.backoffice.tests.payout_helpers import give_verified_account, set_schedule, settle
from apps.common.errors import ConflictError, PaymentHubError, PermissionDeniedError, StateError
from apps.common.models import AuditEvent
from apps.ledger import facade as ledger
from apps.payments import facade as payments

pytestmark = pytest.mark.django_db

THRESHOLD = {"*": 1000}


def Refund() -> Any:
    return apps.get_model("payments", "Refund")


def _staff(name: str) -> Any:
    return get_user_model().objects.create_superuser(
        username=f"{name}@paymenthub.example", email=f"{name}@paymenthub.example", password="x" * 16
    )


@pytest.fixture
def low_threshold(settings: Any) -> None:
    settings.BACKOFFICE_FOUR_EYES_REFUND_MINOR = THRESHOLD


@pytest.fixture
def payment_id() -> str:
    return str(make_payment(merchant_id=make_merchant(), amount=4000)["id"])


@pytest.fixture
def proposer() -> Any:
    return _staff("ada")


@pytest.fixture
def approver() -> Any:
    return _staff("bob")


def _admin_refund(client: Client, payment_id: str) -> Any:
    pk = apps.get_model("payments", "Payment").objects.get(public_id=payment_id).pk
    return client.post(
        "/admin/payments/payment/",
        {
            "action": "refund_payments",
            "_selected_action": [pk],
            "apply": "yes",
            "reason": "customer called",
        },
        follow=True,
    )


@pytest.mark.usefixtures("low_threshold")
class TestRefundThreshold:
    def test_the_payments_admin_refuses_a_refund_above_the_threshold_and_points_to_approvals(
        self, payment_id, proposer
    ):
        response = _admin_refund(log_in(Client(), proposer), payment_id)
        assert b"propose it under Back office -&gt; Approvals" in response.content
        assert not Refund().objects.exists()
        audit = AuditEvent.objects.get(action="payment.admin_refund")
        assert audit.metadata["outcome"] == "refused"

    def test_a_refund_at_or_below_the_threshold_needs_no_second_person(
        self, settings, payment_id, proposer
    ):
        settings.BACKOFFICE_FOUR_EYES_REFUND_MINOR = {"EUR": 4000, "*": 10}
        _admin_refund(log_in(Client(), proposer), payment_id)
        assert Refund().objects.get().amount_minor == 4000


@pytest.mark.usefixtures("low_threshold")
class TestFourEyesApproval:
    def test_the_proposer_cannot_approve_their_own_proposal(self, payment_id, proposer):
        proposal = approvals.propose_payment_refund(
            payment_id=payment_id, proposed_by_id=proposer.pk, reason="customer called"
        )
        with pytest.raises(PermissionDeniedError):
            approvals.approve_operation(approval_id=proposal.public_id, approved_by_id=proposer.pk)
        proposal.refresh_from_db()
        assert proposal.status == "pending"
        assert not Refund().objects.exists()

    def test_the_database_refuses_a_decider_who_is_the_proposer(self, payment_id, proposer):
        proposal = approvals.propose_payment_refund(
            payment_id=payment_id, proposed_by_id=proposer.pk, reason="customer called"
        )
        with pytest.raises(IntegrityError), transaction.atomic():
            ApprovalRequest.objects.filter(pk=proposal.pk).update(
                status="approved", decided_by=proposer, decided_at=timezone.now()
            )

    def test_another_staff_member_approves_and_the_refund_is_made_and_audited(
        self, payment_id, proposer, approver
    ):
        proposal = approvals.propose_payment_refund(
            payment_id=payment_id, proposed_by_id=proposer.pk, reason="customer called"
        )
        done = approvals.approve_operation(
            approval_id=proposal.public_id, approved_by_id=approver.pk, reason="checked"
        )
        assert done.status == "executed"
        assert done.decided_by_id == approver.pk
        refund = Refund().objects.get()
        assert refund.amount_minor == 4000
        actions = list(
            AuditEvent.objects.filter(object_id=proposal.public_id)
            .order_by("sequence")
            .values_list("action", "actor_id")
        )
        assert actions == [
            ("approval.proposed", str(proposer.pk)),
            ("approval.approved", str(approver.pk)),
            ("approval.executed", str(approver.pk)),
        ]
        refund_audit = AuditEvent.objects.get(action="payment.admin_refund")
        assert refund_audit.actor_id == str(approver.pk)
        assert refund_audit.metadata["approval_id"] == proposal.public_id

    def test_an_approved_proposal_does_not_execute_a_second_time(
        self, payment_id, proposer, approver
    ):
        proposal = approvals.propose_payment_refund(
            payment_id=payment_id, proposed_by_id=proposer.pk, reason="customer called"
        )
        approvals.approve_operation(approval_id=proposal.public_id, approved_by_id=approver.pk)
        with pytest.raises(StateError) as refused:
            approvals.approve_operation(
                approval_id=proposal.public_id, approved_by_id=_staff("carol").pk
            )
        assert refused.value.code == "approval_not_pending"
        assert Refund().objects.count() == 1

    def test_a_rejected_proposal_keeps_its_reason_and_can_no_longer_be_approved(
        self, payment_id, proposer, approver
    ):
        proposal = approvals.propose_payment_refund(
            payment_id=payment_id, proposed_by_id=proposer.pk, reason="customer called"
        )
        with pytest.raises(StateError):
            approvals.reject_operation(
                approval_id=proposal.public_id, rejected_by_id=approver.pk, reason=" "
            )
        rejected = approvals.reject_operation(
            approval_id=proposal.public_id, rejected_by_id=approver.pk, reason="not our customer"
        )
        assert (rejected.status, rejected.decision_reason) == ("rejected", "not our customer")
        with pytest.raises(StateError):
            approvals.approve_operation(
                approval_id=proposal.public_id, approved_by_id=_staff("carol").pk
            )
        assert not Refund().objects.exists()
        assert AuditEvent.objects.filter(action="approval.rejected").count() == 1

    def test_an_expired_proposal_cannot_be_approved(self, payment_id, proposer, approver):
        proposal = approvals.propose_payment_refund(
            payment_id=payment_id,
            proposed_by_id=proposer.pk,
            reason="customer called",
            now=timezone.now() - timedelta(days=30),
        )
        with pytest.raises(StateError) as refused:
            approvals.approve_operation(approval_id=proposal.public_id, approved_by_id=approver.pk)
        assert refused.value.code == "approval_expired"
        assert approvals.expire_stale_approvals() == 1
        proposal.refresh_from_db()
        assert proposal.status == "expired"
        assert not Refund().objects.exists()

    def test_a_second_open_proposal_for_the_same_payment_is_refused(self, payment_id, proposer):
        approvals.propose_payment_refund(
            payment_id=payment_id, proposed_by_id=proposer.pk, reason="customer called"
        )
        with pytest.raises(ConflictError):
            approvals.propose_payment_refund(
                payment_id=payment_id, proposed_by_id=_staff("carol").pk, reason="again"
            )

    def test_an_executor_refusal_is_recorded_as_failed(self, payment_id, proposer, approver):
        proposal = approvals.propose_payment_refund(
            payment_id=payment_id, proposed_by_id=proposer.pk, reason="customer called"
        )
        _admin_refund_below_threshold(payment_id=payment_id, amount_minor=500)
        done = approvals.approve_operation(
            approval_id=proposal.public_id, approved_by_id=approver.pk
        )
        assert done.status == "failed"
        assert done.outcome
        assert AuditEvent.objects.filter(action="approval.failed").count() == 1


def _admin_refund_below_threshold(*, payment_id: str, amount_minor: int) -> None:
    """A partial refund made meanwhile through the API, so what was proposed is no longer
    refundable in full."""
    payment = apps.get_model("payments", "Payment").objects.get(public_id=payment_id)
    payments.refund_payment_for_member(
        merchant_id=payment.merchant_ref,
        mode=payment.mode,
        payment_id=payment_id,
        amount_minor=amount_minor,
        reason="requested_by_customer",
        actor_id="someone",
    )


@pytest.mark.usefixtures("low_threshold")
class TestApprovalsAdmin:
    def test_staff_propose_in_admin_and_another_staff_member_approves_there(
        self, payment_id, proposer, approver
    ):
        ada = log_in(Client(), proposer)
        proposed = ada.post(
            "/admin/backoffice/approvalrequest/propose-refund/",
            {"payment_id": payment_id, "reason": "customer called"},
            follow=True,
        )
        assert b"waits for another staff member" in proposed.content
        proposal = ApprovalRequest.objects.get()
        action = {
            "action": "approve_requests",
            "_selected_action": [proposal.pk],
            "apply": "yes",
            "reason": "",
        }
        own = ada.post("/admin/backoffice/approvalrequest/", action, follow=True)
        assert b"another staff member must decide it" in own.content
        assert not Refund().objects.exists()
        bob = log_in(Client(), approver)
        bob.post("/admin/backoffice/approvalrequest/", action, follow=True)
        proposal.refresh_from_db()
        assert proposal.status == "executed"
        assert Refund().objects.get().amount_minor == 4000
        listing = bob.get("/admin/backoffice/approvalrequest/")
        assert proposal.public_id.encode() in listing.content


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("low_threshold")
def test_two_approvers_racing_execute_the_refund_once(payment_id, proposer):
    proposal = approvals.propose_payment_refund(
        payment_id=payment_id, proposed_by_id=proposer.pk, reason="customer called"
    )
    deciders = [_staff("bob").pk, _staff("carol").pk]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def decide(user_id: int) -> None:
        try:
            barrier.wait()
            outcomes.append(
                approvals.approve_operation(
                    approval_id=proposal.public_id, approved_by_id=user_id
                ).status
            )
        except StateError as refused:
            outcomes.append(refused.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(user_id,)) for user_id in deciders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["approval_not_pending", "executed"]
    assert Refund().objects.count() == 1


class TestPayoutToChangedAccount:
    def test_held_payouts_are_released_only_by_a_second_staff_member(self, proposer, approver):
        merchant_id = make_merchant()
        set_schedule(merchant_id, interval="manual")
        give_verified_account(merchant_id, account_number="12345678")
        settle(merchant_id, "pay_first")
        ledger.create_manual_payout(merchant_id=merchant_id, mode="test")
        give_verified_account(merchant_id, account_number="87654321")
        settle(merchant_id, "pay_second")
        with pytest.raises(PaymentHubError) as held:
            ledger.create_manual_payout(merchant_id=merchant_id, mode="test")
        assert held.value.code == "payout_account_change_held"

        proposal = approvals.propose_payout_account_release(
            merchant_id=merchant_id, mode="test", proposed_by_id=proposer.pk, reason="called them"
        )
        with pytest.raises(PermissionDeniedError):
            approvals.approve_operation(approval_id=proposal.public_id, approved_by_id=proposer.pk)
        assert ledger.get_held_payout_account(merchant_id=merchant_id, mode="test")

        done = approvals.approve_operation(
            approval_id=proposal.public_id, approved_by_id=approver.pk
        )
        assert done.status == "executed"
        assert ledger.get_held_payout_account(merchant_id=merchant_id, mode="test") is None
        payout = ledger.create_manual_payout(merchant_id=merchant_id, mode="test")
        assert payout.status == "in_transit"

    def test_a_merchant_whose_payouts_are_not_held_has_nothing_to_release(self, proposer):
        merchant_id = make_merchant()
        give_verified_account(merchant_id)
        with pytest.raises(StateError):
            approvals.propose_payout_account_release(
                merchant_id=merchant_id, mode="test", proposed_by_id=proposer.pk, reason="x"
            )
