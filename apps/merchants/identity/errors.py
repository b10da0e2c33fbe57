"""Errors of portal sign-in and two-factor authentication."""

from __future__ import annotations

from typing import ClassVar

from apps.common.errors import PermissionDeniedError, StateError


class SecondFactorError(PermissionDeniedError):
    """A TOTP or backup code was refused. ``reason`` says why (never shown to the user)."""

    default_code = "second_factor_failed"
    default_message = "That code is not valid. Each code works only once."
    REASONS: ClassVar[frozenset[str]] = frozenset(
        {"invalid", "reused", "throttled", "no_device", "malformed", "device_unreadable"}
    )

    def __init__(self, *, reason: str) -> None:
        if reason not in self.REASONS:
            raise ValueError(f"unknown second-factor failure reason {reason!r}")
        self.reason = reason
        super().__init__()


class EnrolmentStateError(StateError):
    default_code = "two_factor_enrolment_state"
    default_message = "There is no two-factor enrolment in progress."
