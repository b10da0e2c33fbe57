"""Sign-in, two-factor and session events: every outcome lands in the audit trail.

Views pass the caller's origin (IP address, user agent); these functions never see the request,
a password or a code in clear in their audit metadata.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django_otp.models import Device
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken

from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.merchants.identity.devices import (
    SEED_BYTES,
    AuthenticatorDevice,
    BackupCodesDevice,
    SealedSecrets,
    digest_backup_code,
    is_readable_seed,
    seal_totp_seed,
    seal_two_factor_secrets,
)
from apps.merchants.identity.errors import EnrolmentStateError, SecondFactorError
from apps.merchants.identity.origin import RequestOrigin
from apps.merchants.identity.sessions import end_user_sessions

TOTP_DEVICE_NAME = "Authenticator app"
BACKUP_DEVICE_NAME = "Backup codes"
_TOTP_TOKEN = re.compile(r"^\d{6}$")
_BACKUP_CODE = re.compile(r"^[a-z2-7]{8}$")
USERNAME_MAX_LENGTH = 150
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TotpEnrolmentResult:
    device: AuthenticatorDevice
    backup_codes: list[str]


def _audit(
    *,
    action: str,
    origin: RequestOrigin,
    outcome: str,
    user_id: int | None,
    actor_type: str = "user",
    actor_id: str | None = None,
    now: datetime | None = None,
    **details: Any,
) -> None:
    metadata: dict[str, Any] = {"outcome": outcome, "user_agent": origin.user_agent}
    metadata.update(details)
    user_ref = "" if user_id is None else str(user_id)
    record_audit_event(
        action=action,
        actor_type=actor_type,
        actor_id=user_ref if actor_id is None else actor_id,
        object_type="user",
        object_id=user_ref,
        ip_address=origin.ip_address,
        metadata=metadata,
        occurred_at=now,
    )


def _find_user_id(*, username: str) -> int | None:
    user_model = get_user_model()
    return (
        user_model.objects.filter(**{user_model.USERNAME_FIELD: username})
        .values_list("pk", flat=True)
        .first()
    )


# --- password step ----------------------------------------------------------------------------


def record_login_succeeded(
    *, user_id: int, channel: str, stage: str, origin: RequestOrigin, now: datetime | None = None
) -> None:
    """``stage``: "password" (the second factor still to come) or "password_and_second_factor"."""
    _audit(
        action="auth.login_succeeded",
        origin=origin,
        outcome="success",
        user_id=user_id,
        now=now,
        channel=channel,
        stage=stage,
    )


def record_login_failed(
    *, username: str, channel: str, reason: str, origin: RequestOrigin, now: datetime | None = None
) -> None:
    """A refused sign-in. The submitted username is kept (never the password)."""
    username = username[:USERNAME_MAX_LENGTH]
    _audit(
        action="auth.login_failed",
        origin=origin,
        outcome="failure",
        user_id=_find_user_id(username=username) if username else None,
        actor_id="",
        now=now,
        channel=channel,
        reason=reason,
        username=username,
    )


def record_locked_out(
    *, username: str, channel: str, origin: RequestOrigin, now: datetime | None = None
) -> None:
    username = username[:USERNAME_MAX_LENGTH]
    _audit(
        action="auth.locked_out",
        origin=origin,
        outcome="failure",
        user_id=_find_user_id(username=username) if username else None,
        actor_id="",
        now=now,
        channel=channel,
        username=username,
        failure_limit=settings.AXES_FAILURE_LIMIT,
        cool_off_seconds=int(settings.AXES_COOLOFF_TIME.total_seconds()),
    )


def record_logged_out(
    *, user_id: int, channel: str, origin: RequestOrigin, now: datetime | None = None
) -> None:
    _audit(
        action="auth.logged_out",
        origin=origin,
        outcome="success",
        user_id=user_id,
        now=now,
        channel=channel,
    )


def record_session_idle_timeout(
    *, user_id: int, idle_seconds: int, origin: RequestOrigin, now: datetime | None = None
) -> None:
    _audit(
        action="auth.session_idle_timeout",
        origin=origin,
        outcome="session_ended",
        user_id=user_id,
        actor_type="system",
        actor_id="",
        now=now,
        idle_seconds=idle_seconds,
        limit_seconds=settings.IDLE_TIMEOUT_SECONDS,
    )


def record_step_up_succeeded(
    *, user_id: int, origin: RequestOrigin, now: datetime | None = None
) -> None:
    _audit(
        action="auth.step_up_succeeded", origin=origin, outcome="success", user_id=user_id, now=now
    )


def record_step_up_failed(
    *, user_id: int, reason: str, origin: RequestOrigin, now: datetime | None = None
) -> None:
    _audit(
        action="auth.step_up_failed",
        origin=origin,
        outcome="failure",
        user_id=user_id,
        now=now,
        reason=reason,
    )


# --- second factor ----------------------------------------------------------------------------


def has_confirmed_totp_device(*, user_id: int) -> bool:
    return AuthenticatorDevice.objects.filter(user_id=user_id, confirmed=True).exists()


def normalize_code(code: str) -> str:
    """Codes are typed with spaces or dashes ("123 456", "abcd-efgh"): drop them."""
    return re.sub(r"[\s-]", "", code).lower()


def _was_used_before(*, device: AuthenticatorDevice, token: str) -> bool:
    """Whether ``token`` is a genuine code of a time step the device already accepted."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return bool(totp.verify(int(token), device.tolerance)) and totp.t() <= device.last_t


def _check_totp(*, user_id: int, token: str) -> tuple[Device | None, str, dict[str, Any]]:
    device = (
        AuthenticatorDevice.objects.select_for_update()
        .filter(user_id=user_id, confirmed=True)
        .order_by("-id")
        .first()
    )
    if device is None:
        return None, "no_device", {}
    allowed, _ = device.verify_is_allowed()
    if not allowed:
        return None, "throttled", {}
    if not is_readable_seed(stored=device.key, user_id=user_id):
        # sealed under a SECRET_KEY no longer configured (or not sealed): no code can match;
        # an administrator's two-factor reset lets the user enrol again
        logger.error("the authenticator of user %s has a seed no configured key opens", user_id)
        return None, "device_unreadable", {}
    if device.verify_token(token):  # saves last_t on success, throttles on failure
        return device, "", {}
    if _was_used_before(device=device, token=token):
        return None, "reused", {}
    return None, "invalid", {}


def _check_backup_code(*, user_id: int, code: str) -> tuple[Device | None, str, dict[str, Any]]:
    device = (
        BackupCodesDevice.objects.select_for_update()
        .filter(user_id=user_id, confirmed=True)
        .order_by("-id")
        .first()
    )
    if device is None:
        return None, "no_device", {}
    allowed, _ = device.verify_is_allowed()
    if not allowed:
        return None, "throttled", {}
    if device.verify_token(code):  # deletes the code it accepts
        return device, "", {"backup_codes_left": device.token_set.count()}
    return None, "invalid", {}


def verify_second_factor(
    *,
    user_id: int,
    code: str,
    purpose: str,
    origin: RequestOrigin,
    now: datetime | None = None,
) -> Device:
    """Check a TOTP code (six digits) or a single-use backup code; return the device.

    A TOTP code is accepted once: a later time step than the last accepted one is required
    (django-otp's ``last_t``), so a replayed code is refused and audited as
    ``auth.totp_reused``. Failures are throttled per device (1, 2, 4, ... seconds).
    Raises SecondFactorError.
    """
    now = now or get_now()
    code = normalize_code(code)
    method = "totp" if _TOTP_TOKEN.match(code) else "backup_code"
    device: Device | None = None
    reason = "malformed"
    details: dict[str, Any] = {}
    with transaction.atomic():
        if method == "totp":
            device, reason, details = _check_totp(user_id=user_id, token=code)
        elif _BACKUP_CODE.match(code):
            device, reason, details = _check_backup_code(user_id=user_id, code=code)
        if device is not None:
            _audit(
                action="auth.second_factor_succeeded",
                origin=origin,
                outcome="success",
                user_id=user_id,
                now=now,
                method=method,
                purpose=purpose,
                **details,
            )
            return device
    # Outside the transaction: the device's throttling counter must survive the refusal.
    _audit(
        action="auth.totp_reused" if reason == "reused" else "auth.second_factor_failed",
        origin=origin,
        outcome="failure",
        user_id=user_id,
        now=now,
        method=method,
        purpose=purpose,
        reason=reason,
    )
    raise SecondFactorError(reason=reason)


# --- enrolment and backup codes ---------------------------------------------------------------


def start_totp_enrolment(*, user_id: int) -> AuthenticatorDevice:
    """The user's pending (unconfirmed) authenticator, made on first call and then reused."""
    with transaction.atomic():
        get_user_model().objects.select_for_update().get(pk=user_id)
        if has_confirmed_totp_device(user_id=user_id):
            raise EnrolmentStateError(message="Two-factor authentication is already set up.")
        device = (
            AuthenticatorDevice.objects.filter(user_id=user_id, confirmed=False)
            .order_by("-id")
            .first()
        )
        if device is not None and not is_readable_seed(stored=device.key, user_id=user_id):
            device.delete()  # pending under a retired SECRET_KEY: start over with a new seed
            device = None
        if device is None:
            device = AuthenticatorDevice.objects.create(
                user_id=user_id,
                name=TOTP_DEVICE_NAME,
                confirmed=False,
                key=seal_totp_seed(seed=secrets.token_bytes(SEED_BYTES), user_id=user_id),
            )
    return device


def _replace_backup_codes(*, user_id: int, count: int) -> list[str]:
    device, _ = BackupCodesDevice.objects.get_or_create(
        user_id=user_id, name=BACKUP_DEVICE_NAME, defaults={"confirmed": True}
    )
    BackupCodesDevice.objects.filter(user_id=user_id).exclude(pk=device.pk).delete()
    device.token_set.all().delete()
    codes: set[str] = set()
    while len(codes) < count:
        codes.add(StaticToken.random_token())
    ordered = sorted(codes)
    StaticToken.objects.bulk_create(  # only digests are stored; the codes are shown once
        [
            StaticToken(device=device, token=digest_backup_code(code=code, user_id=user_id))
            for code in ordered
        ]
    )
    device.confirmed = True
    device.throttle_reset(commit=False)
    device.save()
    return ordered


def confirm_totp_enrolment(
    *, user_id: int, code: str, origin: RequestOrigin, now: datetime | None = None
) -> TotpEnrolmentResult:
    """Confirm the pending authenticator with a code from it; returns fresh backup codes.

    Raises EnrolmentStateError (nothing pending) or SecondFactorError (wrong code).
    """
    now = now or get_now()
    code = normalize_code(code)
    confirmed: TotpEnrolmentResult | None = None
    reason = "malformed"
    with transaction.atomic():
        device = (
            AuthenticatorDevice.objects.select_for_update()
            .filter(user_id=user_id, confirmed=False)
            .order_by("-id")
            .first()
        )
        if (
            device is None
            or has_confirmed_totp_device(user_id=user_id)
            or not is_readable_seed(stored=device.key, user_id=user_id)
        ):
            raise EnrolmentStateError()
        allowed, _ = device.verify_is_allowed()
        if not allowed:
            reason = "throttled"
        elif _TOTP_TOKEN.match(code):
            reason = "invalid"
            if device.verify_token(code):
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                AuthenticatorDevice.objects.filter(user_id=user_id, confirmed=False).delete()
                codes = _replace_backup_codes(user_id=user_id, count=settings.BACKUP_CODE_COUNT)
                _audit(
                    action="auth.two_factor_enrolled",
                    origin=origin,
                    outcome="success",
                    user_id=user_id,
                    now=now,
                    method="totp",
                )
                _audit(
                    action="auth.backup_codes_generated",
                    origin=origin,
                    outcome="success",
                    user_id=user_id,
                    now=now,
                    count=len(codes),
                )
                confirmed = TotpEnrolmentResult(device=device, backup_codes=codes)
    if confirmed is not None:
        return confirmed
    _audit(
        action="auth.two_factor_enrolment_failed",
        origin=origin,
        outcome="failure",
        user_id=user_id,
        now=now,
        reason=reason,
    )
    raise SecondFactorError(reason=reason)


def generate_backup_codes(
    *, user_id: int, origin: RequestOrigin, now: datetime | None = None
) -> list[str]:
    """Replace the user's backup codes with fresh single-use ones (shown once by the caller)."""
    now = now or get_now()
    with transaction.atomic():
        if not has_confirmed_totp_device(user_id=user_id):
            raise EnrolmentStateError(message="Set up an authenticator app first.")
        codes = _replace_backup_codes(user_id=user_id, count=settings.BACKUP_CODE_COUNT)
        _audit(
            action="auth.backup_codes_generated",
            origin=origin,
            outcome="success",
            user_id=user_id,
            now=now,
            count=len(codes),
        )
    return codes


def reset_two_factor(
    *, user_id: int, actor_id: str, origin: RequestOrigin, now: datetime | None = None
) -> int:
    """An administrator's reset: remove every device and end every session of the user, who
    then enrols again at the next sign-in. Returns how many sessions were ended."""
    now = now or get_now()
    with transaction.atomic():
        get_user_model().objects.select_for_update().get(pk=user_id)
        totp_removed, _ = AuthenticatorDevice.objects.filter(user_id=user_id).delete()
        static_removed = BackupCodesDevice.objects.filter(user_id=user_id).count()
        BackupCodesDevice.objects.filter(user_id=user_id).delete()
        sessions_ended = end_user_sessions(user_id=user_id)
        _audit(
            action="auth.two_factor_reset",
            origin=origin,
            outcome="success",
            user_id=user_id,
            actor_type="admin",
            actor_id=actor_id,
            now=now,
            devices_removed=totp_removed + static_removed,
            sessions_ended=sessions_ended,
        )
    return sessions_ended


# User fields whose change by an administrator is security-relevant (who may sign in, who is
# staff or superuser, what they may do, where their mail goes).
AUDITED_USER_FIELDS = (
    "username",
    "email",
    "is_active",
    "is_staff",
    "is_superuser",
    "groups",
    "user_permissions",
)


def record_user_changed_by_admin(
    *,
    user_id: int,
    actor_id: str,
    origin: RequestOrigin,
    changes: dict[str, tuple[Any, Any]],
    created: bool = False,
) -> None:
    """Audit an administrator's change to a user in the Django admin: each security-relevant
    field changed, with its old and new value (groups and permissions by name; never a
    password, which :func:`record_password_set_by_admin` audits)."""
    audited = {
        name: {"from": before, "to": after}
        for name, (before, after) in changes.items()
        if name in AUDITED_USER_FIELDS
    }
    if not audited and not created:
        return
    _audit(
        action="auth.user_created_by_admin" if created else "auth.user_changed_by_admin",
        origin=origin,
        outcome="success",
        user_id=user_id,
        actor_type="admin",
        actor_id=actor_id,
        changes=audited,
    )


def record_password_set_by_admin(*, user_id: int, actor_id: str, origin: RequestOrigin) -> int:
    """An administrator set a user's password (Django admin): every session of the user is
    ended and the change audited (``auth.password_changed``, actor admin). Returns how many
    sessions were ended."""
    sessions_ended = end_user_sessions(user_id=user_id)
    _audit(
        action="auth.password_changed",
        origin=origin,
        outcome="success",
        user_id=user_id,
        actor_type="admin",
        actor_id=actor_id,
        by="admin",
        sessions_ended=sessions_ended,
    )
    return sessions_ended


def reseal_two_factor_secrets(*, now: datetime | None = None) -> SealedSecrets:
    """After a ``SECRET_KEY`` rotation: every seed sealed again under the current key, stray
    clear backup codes digested (``manage.py seal_two_factor_secrets``); audited."""
    sealed = seal_two_factor_secrets(device_model=AuthenticatorDevice, token_model=StaticToken)
    record_audit_event(
        action="auth.two_factor_secrets_resealed",
        actor_type="system",
        actor_id="manage.py seal_two_factor_secrets",
        object_type="platform",
        object_id="two_factor",
        metadata={
            "seeds_sealed": sealed.seeds_sealed,
            "seeds_unreadable": sealed.seeds_unreadable,
            "codes_digested": sealed.codes_digested,
        },
        occurred_at=now or get_now(),
    )
    return sealed
