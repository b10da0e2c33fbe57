"""Test helpers for signed-in portal sessions (usable by any merchants test)."""

from __future__ import annotations

import os

from django.contrib.auth.models import User
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp

from apps.merchants.identity.devices import AuthenticatorDevice, seal_totp_seed
from apps.merchants.identity.session_state import (
    AUTHENTICATED_AT_KEY,
    LAST_ACTIVITY_KEY,
    now_timestamp,
)

PASSWORD = "correct horse battery staple"  # UserFactory's password


def enrol_authenticator(user: User) -> AuthenticatorDevice:
    """A confirmed authenticator for ``user`` (as if enrolled through the setup page)."""
    return AuthenticatorDevice.objects.create(
        user=user,
        name="Authenticator app",
        confirmed=True,
        key=seal_totp_seed(seed=os.urandom(20), user_id=user.pk),
    )


def code_for(device: AuthenticatorDevice, *, steps_ahead: int = 0) -> str:
    """The device's current TOTP code (or the one ``steps_ahead`` time steps later, which the
    default tolerance of one step accepts: a second fresh code within the same 30 seconds)."""
    value = totp(device.bin_key, device.step, device.t0, device.digits, device.drift + steps_ahead)
    return f"{value:0{device.digits}d}"


def sign_in_with_second_factor(client: Client, user: User) -> AuthenticatorDevice:
    """Sign ``client`` in as ``user`` past both factors, without going through the pages."""
    device = AuthenticatorDevice.objects.filter(
        user=user, confirmed=True
    ).first() or enrol_authenticator(user)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session[AUTHENTICATED_AT_KEY] = now_timestamp()
    session[LAST_ACTIVITY_KEY] = now_timestamp()
    session.save()
    return device
