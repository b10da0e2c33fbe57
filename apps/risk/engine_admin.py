"""Django admin for the fraud engine: rules (validated, previewed and backtested before they
are enabled), stored decisions, the manual review queue, model versions, AML cases and
alerts. Every write goes through a service (audited); nothing edits status fields directly."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from apps.common.admin_base import ReadOnlyModelAdmin
from apps.common.errors import PaymentHubError
from apps.risk.backtest import backtest_rule
from apps.risk.features import FEATURES
from apps.risk.ml import activate_model_version
from apps.risk.models import (
    AmlCase,
    AmlCaseStatus,
    ReviewStatus,
    RiskAlert,
    RiskDecisionRecord,
    RiskLabel,
    RiskModelVersion,
    RiskReview,
    RiskRule,
)
from apps.risk.reviews import decide_review, list_related_payments
from apps.risk.rules import check_rule_condition, save_risk_rule

PREVIEW_DAYS = (7, 30)


class RiskRuleForm(forms.ModelForm):
    class Meta:
        model = RiskRule
        fields = (
            "name",
            "merchant_ref",
            "condition",
            "action",
            "priority",
            "enabled",
            "description",
        )
        widgets = {"condition": forms.Textarea(attrs={"rows": 3, "cols": 90})}
        help_texts = {
            "condition": "An expression over the features listed below, e.g. "
            "<code>amount_minor &gt; 50000 and country_mismatch</code>. Saved only if valid.",
            "enabled": "Leave off to keep the rule a draft: preview and backtest it first.",
            "merchant_ref": "A merchant's public id, or empty for every merchant.",
        }

    def clean_condition(self) -> str:
        condition = str(self.cleaned_data.get("condition") or "")
        try:
            return check_rule_condition(condition=condition)
        except PaymentHubError as error:
            raise forms.ValidationError(error.message) from None


def _render_backtest(*, condition: str, action: str, merchant_ref: str) -> str:
    rows = []
    for mode, days in ((mode, days) for mode in ("live", "test") for days in PREVIEW_DAYS):
        result = backtest_rule(
            condition=condition, action=action, days=days, mode=mode, merchant_id=merchant_ref
        )
        amounts = ", ".join(f"{v} {c}" for c, v in sorted(result.matched_amount_minor.items()))
        rows.append(
            (
                mode,
                days,
                result.evaluated,
                result.matched,
                f"{100 * result.match_rate:.1f}",
                result.newly_affected,
                action,
                amounts or "-",
                ", ".join(result.sample_payment_ids) or "-",
            )
        )
    return format_html(
        "<table><tr><th>mode</th><th>last days</th><th>payments</th><th>would match</th><th>%</th>"
        "<th>newly {}</th><th>(outcome)</th><th>amount (minor)</th><th>examples</th></tr>"
        "{}</table>",
        action,
        format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td><td>{}</td></tr>",
            rows,
        ),
    )


@admin.register(RiskRule)
class RiskRuleAdmin(admin.ModelAdmin):
    form = RiskRuleForm
    list_display = ("name", "merchant_ref", "action", "priority", "enabled", "updated_at")
    list_filter = ("enabled", "action")
    search_fields = ("name", "condition", "merchant_ref")
    readonly_fields = ("preview", "features_reference")
    actions = ("backtest_selected",)

    @admin.display(description="Preview (backtest over stored decisions)")
    def preview(self, obj: RiskRule | None) -> str:
        if obj is None or not obj.pk:
            return "Save the rule (as a draft) to see what it would have done."
        return _render_backtest(
            condition=obj.condition, action=obj.action, merchant_ref=obj.merchant_ref
        )

    @admin.display(description="Features")
    def features_reference(self, obj: RiskRule | None) -> str:
        return format_html(
            "<table>{}</table>",
            format_html_join(
                "", "<tr><td><code>{}</code></td><td>{}</td></tr>", sorted(FEATURES.items())
            ),
        )

    def save_model(self, request: HttpRequest, obj: RiskRule, form: Any, change: bool) -> None:
        saved = save_risk_rule(
            rule_id=obj.pk if change else None,
            name=obj.name,
            merchant_id=obj.merchant_ref,
            condition=obj.condition,
            action=obj.action,
            priority=obj.priority,
            enabled=obj.enabled,
            description=obj.description,
            actor_id=str(request.user.pk),
        )
        obj.pk = saved.pk

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # disable instead: the audit trail keeps every version

    @admin.action(description="Backtest the selected rules over the last 30 days")
    def backtest_selected(self, request: HttpRequest, queryset: QuerySet[RiskRule]) -> None:
        for rule in queryset:
            for mode in ("live", "test"):
                result = backtest_rule(
                    condition=rule.condition,
                    action=rule.action,
                    days=30,
                    mode=mode,
                    merchant_id=rule.merchant_ref,
                )
                self.message_user(
                    request,
                    f"{rule.name} ({mode}): would {rule.action} {result.matched} of "
                    f"{result.evaluated} payments in the last 30 days "
                    f"({result.newly_affected} not already {rule.action}ed).",
                    messages.INFO,
                )


@admin.register(RiskDecisionRecord)
class RiskDecisionRecordAdmin(ReadOnlyModelAdmin):
    list_display = ("payment_ref", "merchant_ref", "action", "level", "score", "created_at")
    list_filter = ("action", "level", "mode", "source")
    search_fields = ("payment_ref", "merchant_ref", "customer_email", "card_fingerprint")


@admin.register(RiskReview)
class RiskReviewAdmin(admin.ModelAdmin):
    """The manual review queue: pending first; approve captures, reject cancels/refunds."""

    list_display = ("payment_ref", "merchant_ref", "status", "score", "reason_list", "created_at")
    list_filter = ("status", "mode")
    search_fields = ("payment_ref", "merchant_ref")
    readonly_fields = (
        "payment_ref",
        "merchant_ref",
        "mode",
        "status",
        "reason_list",
        "score",
        "decision_inputs",
        "related_payments",
        "decided_by",
        "decided_at",
        "note",
        "created_at",
    )
    fields = readonly_fields
    actions = ("approve_selected", "reject_selected")

    def get_queryset(self, request: HttpRequest) -> QuerySet[RiskReview]:
        return super().get_queryset(request).select_related("decision")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Reasons")
    def reason_list(self, obj: RiskReview) -> str:
        return ", ".join(obj.reasons)

    @admin.display(description="Score")
    def score(self, obj: RiskReview) -> int:
        return obj.decision.score

    @admin.display(description="Inputs")
    def decision_inputs(self, obj: RiskReview) -> str:
        return format_html(
            "<table>{}</table>",
            format_html_join(
                "",
                "<tr><td><code>{}</code></td><td>{}</td></tr>",
                sorted((k, str(v)) for k, v in obj.decision.features.items()),
            ),
        )

    @admin.display(description="Related payments (same card, e-mail or IP)")
    def related_payments(self, obj: RiskReview) -> str:
        related = list_related_payments(review=obj)
        if not related:
            return "None"
        return format_html(
            "<table><tr><th>payment</th><th>same</th><th>action</th><th>score</th>"
            "<th>amount</th><th>when</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td></tr>",
                (
                    (
                        r.payment_id,
                        r.link,
                        r.action,
                        r.score,
                        r.amount_minor,
                        r.currency,
                        r.assessed_at,
                    )
                    for r in related
                ),
            ),
        )

    def _decide(self, request: HttpRequest, queryset: QuerySet[RiskReview], approve: bool) -> None:
        done = 0
        for review in queryset.filter(status=ReviewStatus.PENDING):
            try:
                decide_review(review_id=review.pk, approve=approve, actor_id=str(request.user.pk))
                done += 1
            except PaymentHubError as error:
                self.message_user(request, f"{review.payment_ref}: {error.message}", messages.ERROR)
        verb = "approved (capture requested)" if approve else "rejected (cancel requested)"
        self.message_user(request, f"{done} review(s) {verb}.", messages.SUCCESS)

    @admin.action(description="Approve: capture the selected payments")
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[RiskReview]) -> None:
        self._decide(request, queryset, approve=True)

    @admin.action(description="Reject: cancel or refund the selected payments")
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[RiskReview]) -> None:
        self._decide(request, queryset, approve=False)


@admin.register(RiskLabel)
class RiskLabelAdmin(ReadOnlyModelAdmin):
    list_display = ("payment_ref", "is_fraud", "source", "created_at")
    list_filter = ("is_fraud", "source")


@admin.register(RiskModelVersion)
class RiskModelVersionAdmin(ReadOnlyModelAdmin):
    list_display = ("version", "is_active", "roc_auc", "data_source", "training_rows", "created_at")
    exclude = ("artifact",)
    actions = ("activate_selected",)

    @admin.display(description="ROC AUC")
    def roc_auc(self, obj: RiskModelVersion) -> Any:
        return obj.metrics.get("roc_auc")

    @admin.action(description="Activate (serve) this model version")
    def activate_selected(self, request: HttpRequest, queryset: QuerySet[RiskModelVersion]) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version.", messages.ERROR)
            return
        version = queryset.get()
        activate_model_version(version=version.version, actor_id=str(request.user.pk))
        self.message_user(request, f"{version.version} is now serving.", messages.SUCCESS)


class AmlCaseForm(forms.ModelForm):
    """A case closed without a decision is a form error (the service refuses it)."""

    class Meta:
        model = AmlCase
        fields = ("status", "assignee", "notes", "decision")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("status") == AmlCaseStatus.CLOSED and not cleaned.get("decision"):
            self.add_error("decision", "Record a decision before closing a case.")
        return cleaned


@admin.register(AmlCase)
class AmlCaseAdmin(admin.ModelAdmin):
    form = AmlCaseForm
    list_display = ("kind", "merchant_ref", "subject", "status", "assignee", "opened_at")
    list_filter = ("status", "kind", "decision")
    search_fields = ("merchant_ref", "subject", "summary")
    fields = (
        "kind",
        "merchant_ref",
        "subject",
        "summary",
        "details",
        "opened_at",
        "status",
        "assignee",
        "notes",
        "decision",
        "closed_at",
    )
    readonly_fields = (
        "kind",
        "merchant_ref",
        "subject",
        "summary",
        "details",
        "opened_at",
        "closed_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: AmlCase, form: Any, change: bool) -> None:
        from apps.risk.aml import update_aml_case

        update_aml_case(
            case_id=obj.pk,
            status=obj.status,
            assignee=obj.assignee,
            notes=obj.notes,
            decision=obj.decision,
            actor_id=str(request.user.pk),
        )


@admin.register(RiskAlert)
class RiskAlertAdmin(ReadOnlyModelAdmin):
    list_display = ("kind", "summary", "created_at", "emailed_at")
    list_filter = ("kind",)
