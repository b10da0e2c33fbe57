"""Signing platform staff into Django admin in tests, second factor included.

``client.force_login`` skips the login form; when the admin site requires a verified OTP
device (django-otp), the session must also name a confirmed device, as django_otp's
``login(request, device)`` would record it.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice


def make_staff_superuser(*, email: str = "staff@paymenthub.example") -> Any:
    return get_user_model().objects.create_superuser(
        username=email, email=email, password="staff password for tests"
    )


def log_in_staff(client: Client, user: Any) -> Client:
    """Log ``user`` in with a verified TOTP device in the session."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="test device", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client
