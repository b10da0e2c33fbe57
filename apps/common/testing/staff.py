"""Platform staff in tests: signed in with a verified second factor, as the OTP-protected
admin requires (the session names a confirmed device, as django_otp's ``login`` records)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice


def log_in_staff(client: Client, user: Any) -> Client:
    """Log ``user`` in on ``client`` with a confirmed TOTP device in the session."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def make_superuser_client(*, username: str = "ops@paymenthub.example") -> tuple[Client, Any]:
    """A new superuser (e-mail = ``username``) and a client signed in as them, 2FA verified."""
    user = get_user_model().objects.create_superuser(
        username=username, email=username, password="x" * 16
    )
    return log_in_staff(Client(), user), user
