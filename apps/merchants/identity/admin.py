"""The admin behind the portal's sign-in: OTP-verified staff only, and a 2FA reset action.

``paymenthub/urls.py`` turns ``admin.site`` into :class:`PortalOTPAdminSite`; the app config
imports this module (after admin autodiscovery) so the user admin gains the reset action.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import REDIRECT_FIELD_NAME, get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp.admin import OTPAdminSite

from apps.merchants.identity.middleware import second_factor_step_url
from apps.merchants.identity.origin import get_request_origin
from apps.merchants.identity.services import (
    AUDITED_USER_FIELDS,
    record_password_set_by_admin,
    record_user_changed_by_admin,
    reset_two_factor,
)


class PortalOTPAdminSite(OTPAdminSite):
    """Django admin for platform staff who passed password *and* second factor.

    There is no separate admin login form: signing in goes through the portal's login and
    second-factor pages, which come back to the admin afterwards.
    """

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        next_url = request.GET.get(REDIRECT_FIELD_NAME, "")
        if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
            next_url = reverse("admin:index", current_app=self.name)
        query = "?" + urlencode({REDIRECT_FIELD_NAME: next_url})
        if not request.user.is_authenticated:
            return HttpResponseRedirect(settings.LOGIN_URL + query)
        if not getattr(request.user, "is_verified", lambda: False)():
            return HttpResponseRedirect(second_factor_step_url(user_id=request.user.pk) + query)
        # Signed in with both factors, yet the admin refused: not (active) platform staff.
        raise PermissionDenied("The admin is for platform staff only.")


User = get_user_model()


@admin.action(description="Reset two-factor authentication (ends their sessions)")
def reset_two_factor_action(
    modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Any]
) -> HttpResponse | None:
    origin = get_request_origin(request)
    for user_id in queryset.values_list("pk", flat=True):
        reset_two_factor(user_id=user_id, actor_id=str(request.user.pk), origin=origin)
    modeladmin.message_user(
        request,
        f"Two-factor authentication reset for {queryset.count()} user(s); "
        "they set up an authenticator again at their next sign-in.",
        messages.SUCCESS,
    )
    return None


class PlatformUserAdmin(UserAdmin):
    """Django's user admin, audited: a password an administrator sets, and every change to
    who may sign in or what they may do (active, staff, superuser, groups, permissions,
    username, email), land in the audit trail with the administrator as the actor."""

    actions = [reset_two_factor_action]

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:  # the form was accepted
            record_password_set_by_admin(
                user_id=int(id), actor_id=str(request.user.pk), origin=get_request_origin(request)
            )
        return response

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)  # groups and permissions too
        record_user_changed_by_admin(
            user_id=form.instance.pk,
            actor_id=str(request.user.pk),
            origin=get_request_origin(request),
            changes={
                name: (_describe(form.initial.get(name)), _describe(form.cleaned_data.get(name)))
                for name in form.changed_data
                if name in AUDITED_USER_FIELDS
            },
            created=not change,
        )


def _describe(value: Any) -> Any:
    """A field's value as the audit trail keeps it: groups and permissions by name."""
    if hasattr(value, "__iter__") and not isinstance(value, str | bytes):
        return sorted(str(item) for item in value)
    return value


def install_user_admin(site: admin.AdminSite = admin.site) -> None:
    """Register the user admin with the reset action (replacing django.contrib.auth's)."""
    if site.is_registered(User):
        site.unregister(User)
    site.register(User, PlatformUserAdmin)


install_user_admin()
