"""Django admin for platform staff: the onboarding review queue, merchants, team, pricing.

No admin form writes a row directly: lifecycle decisions are actions that ask for a reason
and call :func:`apps.merchants.services.transition_merchant`; editable objects (membership
roles, prices, payout schedules, checkout branding) save through their services, which
validate and audit. ``status`` is never an editable field. KYB documents are downloaded only
through :meth:`MerchantApplicationAdmin.download_document_view`, which audits every access.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from apps.common.admin_base import ask_for_reason
from apps.common.errors import PaymentHubError
from apps.common.models import AuditEvent
from apps.merchants.api_keys import revoke_api_key
from apps.merchants.models import (
    ApiKey,
    BeneficialOwner,
    CheckoutBranding,
    KybDocument,
    Merchant,
    MerchantApplication,
    MerchantMembership,
    MerchantStatus,
    MerchantStatusChange,
    PayoutBankAccount,
    PayoutSchedule,
    PriceListEntry,
    WebhookEndpoint,
)
from apps.merchants.pricing import set_checkout_branding, set_payout_schedule, set_price
from apps.merchants.services import (
    MAX_REASON_LENGTH,
    add_merchant_member,
    open_kyb_document_for_staff,
    transition_merchant,
)
from apps.merchants.states import (
    ACTIONS_REQUIRING_A_REASON,
    MerchantAction,
    allowed_merchant_actions,
)
from apps.merchants.team import Actor, change_member_role, remove_merchant_member

if TYPE_CHECKING:
    MerchantAdminBase = admin.ModelAdmin[Merchant]
    MembershipAdminBase = admin.ModelAdmin[MerchantMembership]
    PriceAdminBase = admin.ModelAdmin[PriceListEntry]
    PayoutAdminBase = admin.ModelAdmin[PayoutSchedule]
    BrandingAdminBase = admin.ModelAdmin[CheckoutBranding]
    WebhookAdminBase = admin.ModelAdmin[WebhookEndpoint]
    ApiKeyAdminBase = admin.ModelAdmin[ApiKey]
    OwnerInlineBase = admin.TabularInline[BeneficialOwner, Merchant]
    DocumentInlineBase = admin.TabularInline[KybDocument, Merchant]
    HistoryInlineBase = admin.TabularInline[MerchantStatusChange, Merchant]
else:
    MerchantAdminBase = MembershipAdminBase = PriceAdminBase = PayoutAdminBase = (
        BrandingAdminBase
    ) = WebhookAdminBase = ApiKeyAdminBase = admin.ModelAdmin
    OwnerInlineBase = DocumentInlineBase = HistoryInlineBase = admin.TabularInline


def _staff_id(request: HttpRequest) -> str:
    return str(request.user.pk)


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


# --- Read-only inlines --------------------------------------------------------------------


class _ReadOnlyInlineMixin:
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class BeneficialOwnerInline(_ReadOnlyInlineMixin, OwnerInlineBase):
    model = BeneficialOwner
    fields = ("public_id", "full_name", "date_of_birth", "nationality", "ownership_percent")
    readonly_fields = fields


class KybDocumentInline(_ReadOnlyInlineMixin, DocumentInlineBase):
    model = KybDocument
    fields = ("public_id", "document_type", "content_type", "size_bytes", "sha256", "download")
    readonly_fields = fields

    @admin.display(description="File")
    def download(self, document: KybDocument) -> str:
        url = reverse("admin:merchants_kyb_document_download", args=[document.public_id])
        return format_html('<a href="{}">Download (audited)</a>', url)


class StatusHistoryInline(_ReadOnlyInlineMixin, HistoryInlineBase):
    model = MerchantStatusChange
    fields = ("created_at", "from_status", "to_status", "reason", "actor_type", "actor_id")
    readonly_fields = fields
    verbose_name_plural = "status history"


# --- Lifecycle actions --------------------------------------------------------------------


class TransitionReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        max_length=MAX_REASON_LENGTH,
        required=False,
    )


_ACTION_TITLES = {
    MerchantAction.START_REVIEW: "Start review",
    MerchantAction.APPROVE: "Approve",
    MerchantAction.REJECT: "Reject",
    MerchantAction.REQUEST_INFORMATION: "Request more information",
    MerchantAction.SUSPEND: "Suspend",
    MerchantAction.REINSTATE: "Reinstate",
}


def _make_transition_action(action: MerchantAction) -> Callable[..., HttpResponse | None]:
    title = _ACTION_TITLES[action]

    def run(
        modeladmin: MerchantAdmin, request: HttpRequest, queryset: QuerySet[Merchant]
    ) -> HttpResponse | None:
        reason_required = action in ACTIONS_REQUIRING_A_REASON
        form = TransitionReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"].strip()
            if reason or not reason_required:
                modeladmin.apply_transition(request, queryset, action=action, reason=reason)
                return None
            form.add_error("reason", "A reason is required: it is emailed to the applicant.")
        return ask_for_reason(
            modeladmin,
            request,
            queryset.order_by("id"),
            title=f"{title}: give a reason",
            action=run.__name__,
            form=form,
            describe=lambda merchant: (
                f"{merchant.trading_name} — {merchant.legal_name} "
                f"({merchant.public_id}, {merchant.get_status_display()})"
            ),
            explanation="The reason is emailed to the applicant."
            if reason_required
            else "An optional note is emailed to the applicant.",
        )

    run.__name__ = action.value
    return admin.action(description=f"{title}…")(run)


def _latest_sanctions_screening(merchant: Merchant) -> AuditEvent | None:
    """The last ``merchant.sanctions_screened`` audit entry (submission or approval)."""
    return (
        AuditEvent.objects.filter(
            object_type="merchant",
            object_id=merchant.public_id,
            action="merchant.sanctions_screened",
        )
        .order_by("-sequence")
        .first()
    )


class MerchantAdmin(MerchantAdminBase):
    """Every merchant, read-only; lifecycle changes only through the actions."""

    list_display: tuple[str, ...] = (
        "public_id",
        "trading_name",
        "legal_name",
        "country",
        "status",
        "created_at",
    )
    list_filter = ("status", "country")
    search_fields = ("public_id", "legal_name", "trading_name", "support_email")
    readonly_fields = (
        "public_id",
        "legal_name",
        "trading_name",
        "country",
        "settlement_currency",
        "support_email",
        "status",
        "status_reason",
        "status_changed_at",
        "created_at",
        "registration_number",
        "vat_id",
        "mcc",
        "website",
        "expected_monthly_volume_minor",
        "sanctions_screening",
    )
    fields = readonly_fields
    inlines = (BeneficialOwnerInline, KybDocumentInline, StatusHistoryInline)
    actions = tuple(_make_transition_action(action) for action in MerchantAction)

    @admin.display(description="Sanctions")
    def sanctions_outcome(self, merchant: Merchant) -> str:
        screening = _latest_sanctions_screening(merchant)
        if screening is None:
            return "not screened"
        outcome = str(screening.metadata.get("outcome", ""))
        return "POTENTIAL MATCH" if outcome == "hit" else outcome.replace("_", " ")

    @admin.display(description="Sanctions screening")
    def sanctions_screening(self, merchant: Merchant) -> str:
        """The last screening (stage, outcome, list version) and each potential match: a hit
        blocks approval until the names are cleared with the compliance team."""
        screening = _latest_sanctions_screening(merchant)
        if screening is None:
            return "Not screened yet."
        meta = screening.metadata
        details = meta.get("details") or {}
        summary = format_html(
            "<strong>{}</strong> at {} on {} ({}; list {})",
            self.sanctions_outcome(merchant),
            meta.get("stage", ""),
            screening.occurred_at.strftime("%Y-%m-%d %H:%M UTC"),
            meta.get("provider") or "no screening provider",
            details.get("list_version") or details.get("reason") or "-",
        )
        matches = meta.get("matches") or []
        if not matches:
            return summary
        rows = format_html_join(
            "",
            "<li>{} &ldquo;{}&rdquo; matches &ldquo;{}&rdquo; (listed as &ldquo;{}&rdquo;, "
            "entry {}, score {})</li>",
            (
                (
                    match.get("screened_role", ""),
                    match.get("screened_name", ""),
                    match.get("matched_name", ""),
                    match.get("listed_name", ""),
                    match.get("list_entry_id", ""),
                    match.get("score", ""),
                )
                for match in matches
            ),
        )
        return format_html("{}<ul>{}</ul>", summary, rows)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # view-only: decisions are the actions, never a form save

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def apply_transition(
        self,
        request: HttpRequest,
        queryset: QuerySet[Merchant],
        *,
        action: MerchantAction,
        reason: str,
    ) -> None:
        done = 0
        for merchant in queryset.order_by("id"):
            try:
                transition_merchant(
                    merchant_id=merchant.public_id,
                    action=action,
                    reason=reason,
                    actor_type="admin",
                    actor_id=_staff_id(request),
                )
            except PaymentHubError as exc:
                self.message_user(request, f"{merchant.public_id}: {exc.message}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(
                request,
                f"{_ACTION_TITLES[action]}: {done} merchant(s) updated; applicants notified.",
                messages.SUCCESS,
            )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """Buttons for the lifecycle actions the merchant's status allows (each opens the
        reason form of the action)."""
        merchant = self.get_object(request, object_id)
        available = self.get_actions(request)
        buttons = []
        if merchant is not None:
            for action in allowed_merchant_actions(current=merchant.status):
                if action.value in available:
                    buttons.append((action.value, _ACTION_TITLES[action]))
        extra_context = {**(extra_context or {}), "lifecycle_buttons": buttons}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self) -> list[URLPattern]:
        urls: list[URLPattern] = super().get_urls()
        if self.model is not Merchant:
            return urls
        download = path(
            "documents/<str:document_id>/download/",
            self.admin_site.admin_view(self.download_document_view),
            name="merchants_kyb_document_download",
        )
        return [download, *urls]

    def download_document_view(
        self, request: HttpRequest, document_id: str
    ) -> HttpResponse | FileResponse:
        """Staff only (admin_view checks is_staff); each download is audited."""
        if not request.user.has_perm("merchants.view_kybdocument"):
            return HttpResponse("Forbidden", status=403)
        try:
            opened = open_kyb_document_for_staff(
                document_id=document_id,
                staff_user_id=int(request.user.pk or 0),
                ip_address=_client_ip(request),
            )
        except PaymentHubError as exc:
            return HttpResponse(exc.message, status=404, content_type="text/plain")
        response = FileResponse(
            opened.file,
            as_attachment=True,
            filename=opened.download_name,
            content_type=opened.content_type,
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "no-store"
        return response


class MerchantApplicationAdmin(MerchantAdmin):
    """The onboarding review queue: merchants that applied or are in review, oldest first."""

    list_display = (
        "public_id",
        "trading_name",
        "legal_name",
        "country",
        "status",
        "sanctions_outcome",
        "created_at",
    )
    actions = tuple(
        _make_transition_action(action)
        for action in (
            MerchantAction.START_REVIEW,
            MerchantAction.APPROVE,
            MerchantAction.REJECT,
            MerchantAction.REQUEST_INFORMATION,
        )
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Merchant]:
        return (
            super()
            .get_queryset(request)
            .filter(status__in=[MerchantStatus.APPLIED, MerchantStatus.IN_REVIEW])
            .order_by("created_at")
        )


# --- Editable objects that save through their services ------------------------------------


class _ServiceSavedAdminMixin:
    """``save_model`` calls a service; a refused change is shown as an error and the form
    page is shown again instead of a success message."""

    _ERROR_ATTRIBUTE = "_merchants_admin_service_error"

    def run_service(self, request: HttpRequest, call: Callable[[], None]) -> None:
        try:
            call()
        except PaymentHubError as exc:
            setattr(request, self._ERROR_ATTRIBUTE, exc.message)
            messages.error(request, f"Not saved: {exc.message}")

    def _failed(self, request: HttpRequest) -> bool:
        return hasattr(request, self._ERROR_ATTRIBUTE)

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        if self._failed(request):
            return None
        return super().log_addition(request, obj, message)  # type: ignore[misc]

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        if self._failed(request):
            return None
        return super().log_change(request, obj, message)  # type: ignore[misc]

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: Any = None) -> Any:
        if self._failed(request):
            return HttpResponseRedirect(request.get_full_path())
        return super().response_add(request, obj, post_url_continue)  # type: ignore[misc]

    def response_change(self, request: HttpRequest, obj: Any) -> Any:
        if self._failed(request):
            return HttpResponseRedirect(request.get_full_path())
        return super().response_change(request, obj)  # type: ignore[misc]

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions: dict[str, Any] = super().get_actions(request)  # type: ignore[misc]
        actions.pop("delete_selected", None)  # bulk deletes would bypass the services
        return actions


class MerchantMembershipAdmin(_ServiceSavedAdminMixin, MembershipAdminBase):
    list_display = ("merchant", "user", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("merchant__public_id", "merchant__trading_name", "user__email")
    raw_id_fields = ("merchant", "user")

    fields = ("merchant", "user", "role")

    def get_readonly_fields(
        self, request: HttpRequest, obj: MerchantMembership | None = None
    ) -> list[str]:
        return ["merchant", "user", "created_at"] if obj is not None else []

    def save_model(
        self, request: HttpRequest, obj: MerchantMembership, form: Any, change: bool
    ) -> None:
        actor = Actor(actor_type="admin", actor_id=_staff_id(request))
        if change:
            self.run_service(
                request,
                lambda: change_member_role(
                    merchant_id=obj.merchant.public_id,
                    user_id=obj.user_id,
                    role=obj.role,
                    actor=actor,
                ),
            )
            return

        def add() -> None:
            add_merchant_member(
                merchant_id=obj.merchant.public_id,
                user_id=obj.user_id,
                role=obj.role,
                actor_type="admin",
                actor_id=_staff_id(request),
            )
            obj.pk = MerchantMembership.objects.get(merchant=obj.merchant, user=obj.user).pk

        self.run_service(request, add)

    def delete_model(self, request: HttpRequest, obj: MerchantMembership) -> None:
        def remove() -> None:
            remove_merchant_member(
                merchant_id=obj.merchant.public_id,
                user_id=obj.user_id,
                actor=Actor(actor_type="admin", actor_id=_staff_id(request)),
            )

        self.run_service(request, remove)

    def response_delete(self, request: HttpRequest, obj_display: str, obj_id: Any) -> Any:
        if self._failed(request):
            return HttpResponseRedirect(
                reverse("admin:merchants_merchantmembership_change", args=[obj_id])
            )
        return super().response_delete(request, obj_display, obj_id)

    def log_deletion(self, request: HttpRequest, obj: Any, object_repr: str) -> Any:
        if self._failed(request):
            return None
        return super().log_deletion(request, obj, object_repr)  # type: ignore[misc]


class PriceListEntryAdmin(_ServiceSavedAdminMixin, PriceAdminBase):
    list_display = ("merchant", "currency", "payment_method", "percentage", "fixed_fee_minor")
    list_filter = ("payment_method", "currency")
    search_fields = ("merchant__public_id", "merchant__trading_name")
    raw_id_fields = ("merchant",)
    fields = ("merchant", "currency", "payment_method", "percentage", "fixed_fee_minor")

    def get_readonly_fields(
        self, request: HttpRequest, obj: PriceListEntry | None = None
    ) -> list[str]:
        return ["merchant", "currency", "payment_method"] if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: PriceListEntry, form: Any, change: bool
    ) -> None:
        merchant_id = obj.merchant.public_id if obj.merchant is not None else None

        def save() -> None:
            set_price(
                merchant_id=merchant_id,
                currency=obj.currency,
                payment_method=obj.payment_method,
                percentage=obj.percentage,
                fixed_fee_minor=obj.fixed_fee_minor,
                actor_type="admin",
                actor_id=_staff_id(request),
            )
            obj.pk = (
                PriceListEntry.objects.filter(
                    merchant=obj.merchant,
                    currency=obj.currency.upper(),
                    payment_method=obj.payment_method,
                )
                .values_list("pk", flat=True)
                .get()
            )

        self.run_service(request, save)


class PayoutScheduleAdmin(_ServiceSavedAdminMixin, PayoutAdminBase):
    list_display = ("merchant", "interval", "minimum_amount_minor", "currency", "delay_days")
    list_filter = ("interval",)
    raw_id_fields = ("merchant",)
    fields = ("merchant", "interval", "weekly_anchor", "minimum_amount_minor", "delay_days")

    def get_readonly_fields(
        self, request: HttpRequest, obj: PayoutSchedule | None = None
    ) -> list[str]:
        return ["merchant", "currency"] if obj is not None else ["currency"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: PayoutSchedule, form: Any, change: bool
    ) -> None:
        def save() -> None:
            set_payout_schedule(
                merchant_id=obj.merchant.public_id,
                interval=obj.interval,
                minimum_amount_minor=obj.minimum_amount_minor,
                delay_days=obj.delay_days,
                weekly_anchor=obj.weekly_anchor,
                actor_type="admin",
                actor_id=_staff_id(request),
            )
            obj.pk = PayoutSchedule.objects.values_list("pk", flat=True).get(
                merchant_id=obj.merchant_id
            )

        self.run_service(request, save)


class CheckoutBrandingAdmin(_ServiceSavedAdminMixin, BrandingAdminBase):
    list_display = ("merchant", "display_name", "accent_color", "logo_url")
    raw_id_fields = ("merchant",)
    fields = ("merchant", "display_name", "logo_url", "accent_color")

    def get_readonly_fields(
        self, request: HttpRequest, obj: CheckoutBranding | None = None
    ) -> list[str]:
        return ["merchant"] if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: CheckoutBranding, form: Any, change: bool
    ) -> None:
        def save() -> None:
            set_checkout_branding(
                merchant_id=obj.merchant.public_id,
                display_name=obj.display_name,
                logo_url=obj.logo_url,
                accent_color=obj.accent_color,
                actor_type="admin",
                actor_id=_staff_id(request),
            )
            obj.pk = CheckoutBranding.objects.values_list("pk", flat=True).get(
                merchant_id=obj.merchant_id
            )

        self.run_service(request, save)


# --- Read-only objects --------------------------------------------------------------------


class _ReadOnlyAdminMixin:
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class WebhookEndpointAdmin(_ReadOnlyAdminMixin, WebhookAdminBase):
    """Signing secrets (even encrypted) are never shown."""

    list_display = ("public_id", "merchant", "mode", "url", "enabled", "created_at")
    list_filter = ("mode", "enabled")
    search_fields = ("public_id", "merchant__public_id", "url")
    fields = (
        "public_id",
        "merchant",
        "mode",
        "url",
        "description",
        "event_types",
        "enabled",
        "previous_secret_expires_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields


@admin.action(description="Revoke the selected API keys")
def revoke_api_keys(
    modeladmin: ApiKeyAdmin, request: HttpRequest, queryset: QuerySet[ApiKey]
) -> None:
    count = 0
    for key in queryset.select_related("merchant").order_by("id"):
        if key.revoked_at is None:
            revoke_api_key(
                merchant_id=key.merchant.public_id,
                key_id=key.public_id,
                actor_type="admin",
                actor_id=_staff_id(request),
            )
            count += 1
    modeladmin.message_user(request, f"{count} API key(s) revoked.", messages.SUCCESS)


class ApiKeyAdmin(_ReadOnlyAdminMixin, ApiKeyAdminBase):
    """Only the visible prefix; the hash stays out of the page."""

    list_display = ("public_id", "merchant", "mode", "key_type", "prefix", "revoked_at")
    list_filter = ("mode", "key_type")
    search_fields = ("public_id", "prefix", "merchant__public_id")
    fields = (
        "public_id",
        "merchant",
        "mode",
        "key_type",
        "prefix",
        "name",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    )
    readonly_fields = fields
    actions = (revoke_api_keys,)


class PayoutBankAccountAdmin(_ReadOnlyAdminMixin, admin.ModelAdmin):
    """Masked: the sealed account number never reaches the page. Merchants set and verify
    their account in the portal (audited there)."""

    list_display = ("public_id", "merchant", "mode", "holder_name", "masked", "verified_at")
    list_filter = ("mode", "scheme")
    search_fields = ("public_id", "merchant__public_id", "holder_name")
    fields = (
        "public_id",
        "merchant",
        "mode",
        "scheme",
        "holder_name",
        "sort_code",
        "masked",
        "verified_at",
        "verified_consent_ref",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    @admin.display(description="account number")
    def masked(self, obj: PayoutBankAccount) -> str:
        return f"****{obj.account_last4}"


admin.site.register(Merchant, MerchantAdmin)
admin.site.register(PayoutBankAccount, PayoutBankAccountAdmin)
admin.site.register(MerchantApplication, MerchantApplicationAdmin)
admin.site.register(MerchantMembership, MerchantMembershipAdmin)
admin.site.register(PriceListEntry, PriceListEntryAdmin)
admin.site.register(PayoutSchedule, PayoutScheduleAdmin)
admin.site.register(CheckoutBranding, CheckoutBrandingAdmin)
admin.site.register(WebhookEndpoint, WebhookEndpointAdmin)
admin.site.register(ApiKey, ApiKeyAdmin)
