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
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.merchants.identity.devices import AuthenticatorDevice, BackupCodesDevice
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


class _SecondFactorDeviceAdmin(admin.ModelAdmin):
    """Who has which second factor and its throttling, read-only. The seed and the codes are
    never shown (they are stored sealed and digested); a lost device is handled with the user
    admin's "Reset two-factor authentication" action."""

    list_display = ("user", "name", "confirmed", "created_at", "last_used_at")
    list_filter = ("confirmed",)
    search_fields = ("user__username", "user__email")
    fields = (
        "user",
        "name",
        "confirmed",
        "created_at",
        "last_used_at",
        "throttling_failure_count",
        "throttling_failure_timestamp",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def install_second_factor_admins(site: admin.AdminSite = admin.site) -> None:
    """Replace django-otp's device admins, which show an authenticator's key and QR code and
    every backup code, with read-only ones of the platform's devices."""
    for stock in (TOTPDevice, StaticDevice):
        if site.is_registered(stock):
            site.unregister(stock)
    for device in (AuthenticatorDevice, BackupCodesDevice):
        if not site.is_registered(device):
            site.register(device, _SecondFactorDeviceAdmin)


install_user_admin()
install_second_factor_admins()
