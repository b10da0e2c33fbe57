"""The team: role changes, removals and email invitations, checked against the permission
matrix (:mod:`apps.merchants.permissions`) and audited.

Invitation links carry a random token (``secrets.token_urlsafe``, 256 bits); only its SHA-256
is stored. A token works once, for ``INVITATION_TTL``; unknown, used, revoked and expired
tokens all get the same answer.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.common.ids import make_public_id
from apps.merchants.account_locks import lock_account_email
from apps.merchants.contracts import CreatedInvitation, InvitationSummary
from apps.merchants.errors import (
    InvalidMerchantDataError,
    InvitationInvalidError,
    LastOwnerError,
    MerchantNotFoundError,
    NotAMemberError,
    TeamPermissionError,
)
from apps.merchants.identity.sessions import end_user_sessions
from apps.merchants.models import Invitation, MemberRole, Merchant, MerchantMembership
from apps.merchants.notifications import send_merchant_email_on_commit
from apps.merchants.permissions import MerchantPermission, member_has_permission

INVITATION_TTL = timedelta(hours=72)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: a merchant user (checked against the matrix), or platform staff /
    the system (``actor_type`` ``"admin"`` / ``"system"``, trusted by the caller)."""

    actor_type: str
    actor_id: str = ""

    @property
    def user_id(self) -> int | None:
        return int(self.actor_id) if self.actor_type == "user" and self.actor_id else None


def hash_invitation_token(*, token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _require_team_permission(*, actor: Actor, merchant_id: str, role_involved: str) -> None:
    if actor.actor_type != "user":
        return
    user_id = actor.user_id
    if user_id is None or not member_has_permission(
        user_id=user_id, merchant_id=merchant_id, permission=MerchantPermission.MANAGE_TEAM
    ):
        raise TeamPermissionError()
    # Only an owner may make, change or remove an owner.
    if (
        role_involved == MemberRole.OWNER
        and not MerchantMembership.objects.filter(
            merchant__public_id=merchant_id, user_id=user_id, role=MemberRole.OWNER
        ).exists()
    ):
        raise TeamPermissionError(message="Only an owner can grant or remove the owner role.")


def _lock_membership(*, merchant_id: str, user_id: int) -> MerchantMembership:
    """The merchant's row first, then the membership: every team change takes its locks in
    that order, so two owners acting on each other at once run one after the other instead
    of deadlocking (a join locked both rows at once, in whichever order the scan met them)."""
    Merchant.objects.select_for_update().filter(public_id=merchant_id).first()
    membership = (
        MerchantMembership.objects.select_for_update(of=("self",))
        .select_related("merchant")
        .filter(merchant__public_id=merchant_id, user_id=user_id)
        .first()
    )
    if membership is None:
        raise NotAMemberError(param="user")
    return membership


def _ensure_another_owner(*, membership: MerchantMembership) -> None:
    # Lock every owner row of the merchant so two concurrent demotions cannot both pass.
    owners = list(
        MerchantMembership.objects.select_for_update()
        .filter(merchant_id=membership.merchant_id, role=MemberRole.OWNER)
        .order_by("id")
        .values_list("id", flat=True)
    )
    if owners == [membership.pk]:
        raise LastOwnerError()


def change_member_role(
    *, merchant_id: str, user_id: int, role: str, actor: Actor, now: datetime | None = None
) -> None:
    now = now or get_now()
    if role not in MemberRole.values:
        raise InvalidMerchantDataError(message=f"unknown role {role!r}", param="role")
    with transaction.atomic():
        membership = _lock_membership(merchant_id=merchant_id, user_id=user_id)
        previous = membership.role
        involved = MemberRole.OWNER if MemberRole.OWNER in (previous, role) else role
        _require_team_permission(actor=actor, merchant_id=merchant_id, role_involved=involved)
        if previous == role:
            return
        if previous == MemberRole.OWNER:
            _ensure_another_owner(membership=membership)
        membership.role = role
        membership.save(update_fields=["role"])
        record_audit_event(
            action="merchant.member_role_changed",
            actor_type=actor.actor_type,
            actor_id=actor.actor_id,
            object_type="user",
            object_id=str(user_id),
            merchant_ref=merchant_id,
            metadata={"from": previous, "to": role, "outcome": "changed"},
            occurred_at=now,
        )


def remove_merchant_member(
    *, merchant_id: str, user_id: int, actor: Actor, now: datetime | None = None
) -> int:
    """Remove a member and end every session of that user (sessions belong to the user, not
    to one merchant, so a member of several merchants signs in again). Returns how many
    sessions were ended."""
    now = now or get_now()
    with transaction.atomic():
        membership = _lock_membership(merchant_id=merchant_id, user_id=user_id)
        _require_team_permission(
            actor=actor, merchant_id=merchant_id, role_involved=membership.role
        )
        if membership.role == MemberRole.OWNER:
            _ensure_another_owner(membership=membership)
        role = membership.role
        membership.delete()
        ended = end_user_sessions(user_id=user_id)
        record_audit_event(
            action="merchant.member_removed",
            actor_type=actor.actor_type,
            actor_id=actor.actor_id,
            object_type="user",
            object_id=str(user_id),
            merchant_ref=merchant_id,
            metadata={"role": role, "sessions_ended": ended, "outcome": "removed"},
            occurred_at=now,
        )
    return ended


def _to_invitation_summary(invitation: Invitation) -> InvitationSummary:
    return InvitationSummary(
        invitation_id=invitation.public_id,
        merchant_id=invitation.merchant.public_id,
        email=invitation.email,
        role=invitation.role,
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
        accepted_at=invitation.accepted_at,
        revoked_at=invitation.revoked_at,
    )


def list_pending_invitations(
    *, merchant_id: str, now: datetime | None = None
) -> list[InvitationSummary]:
    """Invitations of the merchant that can still be accepted, oldest first."""
    now = now or get_now()
    invitations = Invitation.objects.select_related("merchant").filter(
        merchant__public_id=merchant_id,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=now,
    )
    return [_to_invitation_summary(row) for row in invitations.order_by("created_at", "id")]


def build_invitation_url(*, token: str) -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/portal/team/invitations/{token}/"


@sensitive_variables("token")
def create_invitation(
    *,
    merchant_id: str,
    email: str,
    role: str,
    actor: Actor,
    now: datetime | None = None,
) -> CreatedInvitation:
    """Invite ``email`` as ``role``; emails the single-use link after commit. Earlier pending
    invitations of the same address to the same merchant are revoked."""
    now = now or get_now()
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidMerchantDataError(message="Enter a valid email.", param="email") from None
    if role not in MemberRole.values:
        raise InvalidMerchantDataError(message=f"unknown role {role!r}", param="role")
    with transaction.atomic():
        merchant = Merchant.objects.select_for_update().filter(public_id=merchant_id).first()
        if merchant is None:
            raise MerchantNotFoundError(param="merchant")
        _require_team_permission(actor=actor, merchant_id=merchant_id, role_involved=role)
        if MerchantMembership.objects.filter(merchant=merchant, user__email__iexact=email).exists():
            raise InvalidMerchantDataError(
                message="This person is already a member.", param="email"
            )
        Invitation.objects.filter(
            merchant=merchant,
            email__iexact=email,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
        ).update(revoked_at=now)
        token = secrets.token_urlsafe(32)
        invitation = Invitation.objects.create(
            public_id=make_public_id(prefix="inv"),
            merchant=merchant,
            email=email,
            role=role,
            token_hash=hash_invitation_token(token=token),
            invited_by_id=actor.user_id,
            created_at=now,
            expires_at=now + INVITATION_TTL,
        )
        record_audit_event(
            action="merchant.invitation_created",
            actor_type=actor.actor_type,
            actor_id=actor.actor_id,
            object_type="invitation",
            object_id=invitation.public_id,
            merchant_ref=merchant.public_id,
            metadata={"email": email, "role": role, "expires_at": invitation.expires_at},
            occurred_at=now,
        )
        send_merchant_email_on_commit(
            recipients=[email],
            name="invitation",
            context={
                "name": merchant.trading_name,
                "role": MemberRole(role).label,
                "hours": int(INVITATION_TTL.total_seconds() // 3600),
                "url": build_invitation_url(token=token),
            },
        )
    return CreatedInvitation(summary=_to_invitation_summary(invitation), token=token)


def revoke_invitation(
    *, merchant_id: str, invitation_id: str, actor: Actor, now: datetime | None = None
) -> None:
    now = now or get_now()
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update()
            .select_related("merchant")
            .filter(public_id=invitation_id, merchant__public_id=merchant_id)
            .first()
        )
        if invitation is None:
            raise InvitationInvalidError(param="invitation")
        _require_team_permission(
            actor=actor, merchant_id=merchant_id, role_involved=invitation.role
        )
        if invitation.accepted_at or invitation.revoked_at:
            return
        invitation.revoked_at = now
        invitation.save(update_fields=["revoked_at"])
        record_audit_event(
            action="merchant.invitation_revoked",
            actor_type=actor.actor_type,
            actor_id=actor.actor_id,
            object_type="invitation",
            object_id=invitation.public_id,
            merchant_ref=merchant_id,
            metadata={"outcome": "revoked"},
            occurred_at=now,
        )


def _is_usable(invitation: Invitation, *, now: datetime) -> bool:
    return (
        invitation.accepted_at is None
        and invitation.revoked_at is None
        and invitation.expires_at > now
    )


@dataclass(frozen=True, slots=True)
class PendingInvitation:
    summary: InvitationSummary
    merchant_name: str
    has_account: bool


@sensitive_variables("token")
def get_pending_invitation(*, token: str, now: datetime | None = None) -> PendingInvitation:
    """The invitation behind a link, if it can still be accepted (GET never consumes it, so
    mail scanners that open links do no harm)."""
    now = now or get_now()
    invitation = (
        Invitation.objects.select_related("merchant")
        .filter(token_hash=hash_invitation_token(token=token or ""))
        .first()
    )
    if invitation is None or not _is_usable(invitation, now=now):
        raise InvitationInvalidError()
    has_account = get_user_model().objects.filter(username__iexact=invitation.email).exists()
    return PendingInvitation(
        summary=_to_invitation_summary(invitation),
        merchant_name=invitation.merchant.trading_name,
        has_account=has_account,
    )


@sensitive_variables("token", "password")
def accept_invitation(
    *,
    token: str,
    password: str | None = None,
    signed_in_user_id: int | None = None,
    ip_address: str | None = None,
    now: datetime | None = None,
) -> InvitationSummary:
    """Consume the invitation: link the existing account with the invited email, or create it
    (``password`` required, checked by Django's validators), and add the membership.

    ``signed_in_user_id``: the portal user accepting while signed in; the invitation must
    have been sent to that user's email (a forwarded link cannot add someone else)."""
    now = now or get_now()
    user_model = get_user_model()
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update()
            .select_related("merchant")
            .filter(token_hash=hash_invitation_token(token=token or ""))
            .first()
        )
        usable = invitation is not None and _is_usable(invitation, now=now)
    if invitation is None or not usable:
        # Recorded outside the refused transaction, so the attempt stays in the trail.
        record_audit_event(
            action="merchant.invitation_accept_failed",
            actor_type="user",
            object_type="invitation",
            object_id=invitation.public_id if invitation else "",
            merchant_ref=invitation.merchant.public_id if invitation else "",
            ip_address=ip_address,
            metadata={"outcome": "refused"},
            occurred_at=now,
        )
        raise InvitationInvalidError()
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update().select_related("merchant").get(pk=invitation.pk)
        )
        if not _is_usable(invitation, now=now):  # accepted concurrently
            raise InvitationInvalidError()
        # another invitation to this email (or a sign-up) creating its account waits here
        lock_account_email(email=invitation.email)
        user = user_model.objects.filter(username__iexact=invitation.email).first()
        if signed_in_user_id is not None and (user is None or user.pk != signed_in_user_id):
            raise InvitationInvalidError(
                message="This invitation was sent to another email address; sign in with "
                "that account to accept it."
            )
        created_user = user is None
        if user is None:
            candidate = user_model(username=invitation.email, email=invitation.email)
            try:
                validate_password(password or "", user=candidate)
            except ValidationError as exc:
                raise InvalidMerchantDataError(
                    message=" ".join(exc.messages), param="password"
                ) from None
            user = user_model.objects.create_user(
                username=invitation.email, email=invitation.email, password=password
            )
        if not MerchantMembership.objects.filter(merchant=invitation.merchant, user=user).exists():
            MerchantMembership.objects.create(
                merchant=invitation.merchant, user=user, role=invitation.role, created_at=now
            )
        invitation.accepted_at = now
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        record_audit_event(
            action="merchant.invitation_accepted",
            actor_type="user",
            actor_id=str(user.pk),
            object_type="invitation",
            object_id=invitation.public_id,
            merchant_ref=invitation.merchant.public_id,
            ip_address=ip_address,
            metadata={
                "role": invitation.role,
                "created_user": created_user,
                "outcome": "accepted",
            },
            occurred_at=now,
        )
    return _to_invitation_summary(invitation)
