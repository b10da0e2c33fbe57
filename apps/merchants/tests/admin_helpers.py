"""Signing platform staff into Django admin in tests, second factor included.

``client.force_login`` skips the login form; when the admin site requires a verified OTP
device (django-otp), the session must also name a confirmed device, as django_otp's
``login(request, device)`` would record it (``apps.common.testing.staff``).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from apps.common.testing.staff import log_in_staff

__all__ = ["log_in_staff", "make_staff_superuser"]


def make_staff_superuser(*, email: str = "staff@paymenthub.example") -> Any:
    return get_user_model().objects.create_superuser(
        username=email, email=email, password="staff password for tests"
    )
