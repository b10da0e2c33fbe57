"""Django admin for payments, refunds, disputes and webhook deliveries: money and status are
read-only and nothing here can be deleted (the delivery log included); capture, cancel and refund,
deciding a simulated dispute and sending a webhook again are actions that need the model's change
permission (support reads, ops acts), ask for a reason and are audited (admins issue refunds
here)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html

from apps.common.admin_base import ReasonForm, ask_for_reason, bind_reason_form
from apps.common.errors import PaymentHubError
from apps.payments import bank_refunds, disputes, services
from apps.payments.models import (
    Dispute,
    Payment,
    PaymentAttempt,
    PaymentEvent,
    Refund,
    RoutingRule,
    WebhookDelivery,
    WebhookDeliveryAttempt,
)
from apps.payments.reconciliation import admin as reconciliation_admin  # noqa: F401
from apps.payments.routing_config import get_routing_table, validate_connector_list
from apps.payments.webhooks import redeliver_webhook_by_admin


def _reason_form(request: HttpRequest) -> ReasonForm:
    return bind_reason_form(request)


def _describe_money_row(row: Any) -> str:
    """A payment or dispute on the reason page: its amount, status and merchant."""
    return (
        f"{row.public_id}: {row.amount_minor} {row.currency} ({row.status}, "
        f"merchant {row.merchant_ref})"
    )


def _ask_for_reason(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    title: str,
    action: str,
    form: ReasonForm,
    describe: Callable[[Any], str] = _describe_money_row,
    explanation: str = "It calls the processor through the same services as the API.",
) -> TemplateResponse:
    return ask_for_reason(
        modeladmin,
        request,
        queryset,
        title=title,
        action=action,
        form=form,
        describe=describe,
        explanation=explanation,
    )


def _make_operation_action(operation: str, title: str) -> Callable[..., HttpResponse | None]:
    def action(
        modeladmin: PaymentAdmin, request: HttpRequest, queryset: QuerySet[Payment]
    ) -> HttpResponse | None:
        form = _reason_form(request)
        if form.is_bound and form.is_valid():
            errors = [
                error
                for payment in queryset
                if (
                    error := services.perform_staff_payment_operation(
                        payment_id=payment.public_id,
                        operation=operation,
                        reason=form.cleaned_data["reason"],
                        staff_user_id=str(request.user.pk),
                        ip_address=request.META.get("REMOTE_ADDR"),
                    )
                )
            ]
            for error in errors:
                modeladmin.message_user(request, error, level=messages.ERROR)
            if len(errors) < queryset.count():
                modeladmin.message_user(request, f"{title}: done for the others.")
            return None
        return _ask_for_reason(
            modeladmin, request, queryset, title=title, action=f"{operation}_payments", form=form
        )

    action.__name__ = f"{operation}_payments"
    # staff roles: money moves need the change permission (support reads, ops acts)
    return admin.action(description=title, permissions=["change"])(action)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AttemptInline(ReadOnlyInline):
    model = PaymentAttempt
    fields = (
        "public_id",
        "kind",
        "status",
        "connector",
        "amount_minor",
        "decline_code",
        "error_code",
        "created_at",
        "completed_at",
    )
    readonly_fields = fields


class EventInline(ReadOnlyInline):
    model = PaymentEvent
    fields = ("event_type", "from_status", "to_status", "outbox_event_id", "created_at")
    readonly_fields = fields


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ("public_id", "amount_minor", "status", "reason", "failure_code", "created_at")
    readonly_fields = fields


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = (
        "public_id",
        "merchant_ref",
        "mode",
        "amount_minor",
        "currency",
        "status",
        "card_brand",
        "card_last4",
        "created_at",
    )
    list_filter = ("status", "mode", "currency", "capture_method", "connector")
    search_fields = ("public_id", "merchant_ref", "customer_email", "processor_reference")
    inlines = [AttemptInline, RefundInline, EventInline]
    show_full_result_count = False  # a large table: no COUNT(*) of it on every page
    actions = [
        _make_operation_action("capture", "Capture the authorized amount"),
        _make_operation_action("cancel", "Cancel (void) before capture"),
        _make_operation_action("refund", "Refund what is left"),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in Payment._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    list_display = ("public_id", "merchant_ref", "amount_minor", "currency", "status", "created_at")
    list_filter = ("status", "mode")
    search_fields = ("public_id", "merchant_ref", "payment__public_id")
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in Refund._meta.fields] + ["bank_refund"]

    @admin.display(description="Paid back by bank")
    def bank_refund(self, obj: Refund) -> str:
        """A refund of a pay-by-bank payment: the bank payment paying it out and, while it
        waits, the link where the collection account's holder authorises it at the bank."""
        found = bank_refunds.get_bank_refund_of(obj) if obj.pk else None
        if found is None:
            return "-"
        if found.authorization_url:
            return format_html(
                '<a href="{}" target="_blank" rel="noopener noreferrer">Open at the bank</a>: '
                "log in as the collection account's holder and approve {} to the payer's "
                "account ending {} ({})",
                found.authorization_url,
                found.id,
                found.refund_account_last4,
                found.status,
            )
        return format_html(
            "{} to the payer's account ending {}: {} {}",
            found.id,
            found.refund_account_last4,
            found.status,
            found.bank_reference or found.failure_code,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _make_dispute_decision_action(won: bool) -> Callable[..., HttpResponse | None]:
    title = f"Test mode: the card network decides the dispute {'won' if won else 'lost'}"
    name = f"decide_dispute_{'won' if won else 'lost'}"

    def action(
        modeladmin: DisputeAdmin, request: HttpRequest, queryset: QuerySet[Dispute]
    ) -> HttpResponse | None:
        form = _reason_form(request)
        if form.is_bound and form.is_valid():
            for dispute in queryset:
                decided = disputes.decide_test_dispute(
                    dispute_id=dispute.public_id,
                    won=won,
                    staff_user_id=str(request.user.pk),
                    reason=form.cleaned_data["reason"],
                )
                if not decided:
                    modeladmin.message_user(
                        request,
                        f"{dispute.public_id}: only open disputes of simulated test payments "
                        "can be decided here; live disputes are decided by the card network.",
                        level=messages.ERROR,
                    )
            return None
        return _ask_for_reason(modeladmin, request, queryset, title=title, action=name, form=form)

    action.__name__ = name
    # a decision moves money (the disputed funds, the fee): the change permission, as refunds
    return admin.action(description=title, permissions=["change"])(action)


@admin.register(Dispute)
class DisputeAdmin(admin.ModelAdmin):
    """Disputes are opened and decided by the processors (notifications); read-only here,
    except that staff play the card network for simulated test-mode disputes (audited)."""

    list_display = (
        "public_id",
        "merchant_ref",
        "mode",
        "amount_minor",
        "currency",
        "reason",
        "status",
        "created_at",
    )
    list_filter = ("status", "mode")
    search_fields = ("public_id", "merchant_ref", "payment__public_id", "processor_reference")
    actions = [_make_dispute_decision_action(True), _make_dispute_decision_action(False)]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in Dispute._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DeliveryAttemptInline(ReadOnlyInline):
    model = WebhookDeliveryAttempt
    fields = (
        "attempted_at",
        "response_status",
        "latency_ms",
        "response_excerpt",
        "error",
        "manual",
    )
    readonly_fields = fields


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "public_id",
        "event_type",
        "merchant_ref",
        "url",
        "status",
        "attempts",
        "next_attempt_at",
    )
    list_filter = ("status", "event_type")
    search_fields = ("public_id", "event_id", "merchant_ref", "endpoint_ref")
    inlines = [DeliveryAttemptInline]
    actions = ["redeliver"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in WebhookDelivery._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the delivery log is evidence: what was sent, when, and the answers

    # sending again needs the change permission (support reads the log, ops acts)
    @admin.action(description="Send again now", permissions=["change"])
    def redeliver(
        self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]
    ) -> HttpResponse | None:
        """Send each selected delivery again now, with a reason; one audit entry each
        (``webhook.admin_redelivered``: the reason and the outcome, the delivery's status or
        ``refused``). A delivery the service refuses gets an error message and one not
        delivered a warning; the others are still sent."""
        form = _reason_form(request)
        if not (form.is_bound and form.is_valid()):
            return _ask_for_reason(
                self,
                request,
                queryset,
                title="Send again now",
                action="redeliver",
                form=form,
                describe=lambda delivery: (
                    f"{delivery.public_id}: {delivery.event_type} to {delivery.url} "
                    f"({delivery.status}, merchant {delivery.merchant_ref})"
                ),
                explanation="It signs the event again and sends it to the endpoint's current "
                "URL now, as the merchant's own redelivery does.",
            )
        reason = form.cleaned_data["reason"]
        for delivery in queryset:
            try:
                outcome = redeliver_webhook_by_admin(
                    merchant_id=delivery.merchant_ref,
                    delivery_id=delivery.public_id,
                    staff_user_id=str(request.user.pk),
                    reason=reason,
                    ip_address=request.META.get("REMOTE_ADDR"),
                )
            except PaymentHubError as refused:
                self.message_user(
                    request,
                    f"{delivery.public_id}: not sent: {refused.message}",
                    level=messages.ERROR,
                )
                continue
            level = messages.SUCCESS if outcome == "delivered" else messages.WARNING
            self.message_user(request, f"{delivery.public_id}: {outcome}", level=level)
        return None


ROUTING_RULES_HELP = (
    "Used only while no routing.rules configuration document is in force: once a version of "
    'that document is published (a sensitive key: Back office -> Approvals -> "Propose a '
    'configuration change"), it alone decides routing and these rows are ignored; a '
    "rollback to an earlier version does not bring them back. See "
    "docs/runbooks/configuration.md."
)


ROUTING_RULE_FIELDS = (
    "priority",
    "mode",
    "merchant_ref",
    "currency",
    "brand",
    "min_amount_minor",
    "max_amount_minor",
    "connectors",
    "enabled",
)


class RoutingRuleForm(forms.ModelForm):
    """Refuses connector lists routing could not use: unknown or repeated names, and a
    test-only connector (the simulator) on a live rule."""

    class Meta:
        model = RoutingRule
        fields = ROUTING_RULE_FIELDS

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "connectors" in cleaned and "mode" in cleaned:
            problems = validate_connector_list(
                connectors=cleaned["connectors"], mode=cleaned["mode"]
            )
            if problems:
                self.add_error("connectors", problems)
        return cleaned


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    """Routing rule rows: the fallback while no ``routing.rules`` document is in force."""

    form = RoutingRuleForm

    fieldsets = (
        (
            None,
            {
                "description": ROUTING_RULES_HELP,
                "fields": ROUTING_RULE_FIELDS,
            },
        ),
    )

    list_display = ROUTING_RULE_FIELDS
    list_filter = ("mode", "enabled")

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        document = get_routing_table()
        if document is not None:
            self.message_user(
                request,
                f"The routing.rules configuration document (version {document.version}) is in "
                "force: it alone decides routing and these rows are ignored "
                "(docs/runbooks/configuration.md).",
                level=messages.WARNING,
            )
        return super().changelist_view(request, extra_context)
