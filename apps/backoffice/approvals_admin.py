"""Back office -> Approvals: staff propose a sensitive operation, another staff member approves
or rejects it (apps.backoffice.approvals does the work; nothing is edited by hand here)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from apps.backoffice import approvals
from apps.backoffice.models import ApprovalRequest
from apps.common.config import list_config_schemas
from apps.common.errors import PaymentHubError


class DecisionForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}))


class ApprovalOnlyForm(forms.Form):
    reason = forms.CharField(
        max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class ProposePayoutReleaseForm(forms.Form):
    merchant_id = forms.CharField(max_length=40, label="Merchant id (mch_...)")
    mode = forms.ChoiceField(choices=[("live", "live"), ("test", "test")])
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}))


class ProposeRefundForm(forms.Form):
    payment_id = forms.CharField(max_length=64, label="Payment id (pay_...)")
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}))


class ProposeConfigChangeForm(forms.Form):
    key = forms.ChoiceField(choices=())
    body = forms.JSONField(
        widget=forms.Textarea(attrs={"rows": 14, "cols": 80}),
        help_text="The whole document as JSON (it replaces the current version).",
    )
    effective_from = forms.DateTimeField(
        required=False, help_text="Empty: when approved. A later time schedules the version."
    )
    comment = forms.CharField(max_length=500, required=False)
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        key_field = self.fields["key"]
        assert isinstance(key_field, forms.ChoiceField)
        key_field.choices = [
            (
                schema.key,
                f"{schema.key}{' (sensitive)' if schema.sensitive else ''}: {schema.description}",
            )
            for schema in list_config_schemas()
        ]


def _make_decision_action(approve: bool) -> Callable[..., HttpResponse | None]:
    name = "approve_requests" if approve else "reject_requests"
    title = "Approve and execute" if approve else "Reject with a reason"

    def action(
        modeladmin: ApprovalRequestAdmin,
        request: HttpRequest,
        queryset: QuerySet[ApprovalRequest],
    ) -> HttpResponse | None:
        form_class = ApprovalOnlyForm if approve else DecisionForm
        form = form_class(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            user_id = int(str(request.user.pk))
            for item in queryset:
                try:
                    if approve:
                        done = approvals.approve_operation(
                            approval_id=item.public_id,
                            approved_by_id=user_id,
                            reason=form.cleaned_data["reason"],
                        )
                        level = messages.SUCCESS if done.status == "executed" else messages.ERROR
                        modeladmin.message_user(
                            request, f"{done.public_id}: {done.status}: {done.outcome}", level
                        )
                    else:
                        approvals.reject_operation(
                            approval_id=item.public_id,
                            rejected_by_id=user_id,
                            reason=form.cleaned_data["reason"],
                        )
                        modeladmin.message_user(request, f"{item.public_id}: rejected.")
                except PaymentHubError as refused:
                    modeladmin.message_user(
                        request, f"{item.public_id}: {refused.message}", messages.ERROR
                    )
            return None
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "opts": modeladmin.model._meta,
            "items": list(queryset.select_related("proposed_by")),
            "form": form,
            "action": name,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "explanation": "Only a staff member other than the proposer can decide; "
            "the decision is recorded in the audit trail.",
        }
        return TemplateResponse(request, "admin/backoffice/approval_form.html", context)

    action.__name__ = name
    return admin.action(description=title, permissions=["decide"])(action)


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(admin.ModelAdmin):
    list_display = (
        "public_id",
        "kind",
        "summary",
        "status",
        "proposed_by",
        "proposed_at",
        "expires_at",
        "decided_by",
    )
    list_filter = ("status", "kind")
    search_fields = ("public_id", "object_ref", "merchant_ref")
    list_select_related = ("proposed_by", "decided_by")
    show_full_result_count = False
    actions = [_make_decision_action(True), _make_decision_action(False)]
    change_list_template = "admin/backoffice/approvalrequest/change_list.html"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in ApprovalRequest._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_decide_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("backoffice.change_approvalrequest")

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "propose-refund/",
                self.admin_site.admin_view(self.propose_refund_view),
                name="backoffice_approvalrequest_propose_refund",
            ),
            path(
                "propose-config-change/",
                self.admin_site.admin_view(self.propose_config_change_view),
                name="backoffice_approvalrequest_propose_config_change",
            ),
            path(
                "propose-payout-release/",
                self.admin_site.admin_view(self.propose_payout_release_view),
                name="backoffice_approvalrequest_propose_payout_release",
            ),
            *super().get_urls(),
        ]

    def propose_payout_release_view(self, request: HttpRequest) -> HttpResponse:
        """Propose releasing payouts held for a recently changed bank account."""
        return self._propose(
            request,
            permission="ledger.change_payout",
            form=ProposePayoutReleaseForm(request.POST if request.method == "POST" else None),
            propose=lambda data, user_id: approvals.propose_payout_account_release(
                merchant_id=data["merchant_id"].strip(),
                mode=data["mode"],
                proposed_by_id=user_id,
                reason=data["reason"],
            ),
            title="Propose releasing payouts to a changed bank account",
            explanation="Payouts to a payout bank account changed recently wait until a "
            "second staff member approves; check the change with the merchant first.",
        )

    def propose_config_change_view(self, request: HttpRequest) -> HttpResponse:
        """Propose a runtime configuration change (how a sensitive key is changed)."""
        return self._propose(
            request,
            permission="common.add_configdocument",
            form=ProposeConfigChangeForm(request.POST if request.method == "POST" else None),
            propose=lambda data, user_id: approvals.propose_config_change(
                key=data["key"],
                body=data["body"],
                effective_from=data.get("effective_from"),
                comment=data.get("comment", ""),
                proposed_by_id=user_id,
                reason=data["reason"],
            ),
            title="Propose a configuration change",
            explanation="The document is checked against its schema now and published only "
            "when another staff member approves; the approval and the new version are "
            "audited.",
        )

    def propose_refund_view(self, request: HttpRequest) -> HttpResponse:
        """Propose a refund above the four-eyes threshold (staff who may refund)."""
        return self._propose(
            request,
            permission="payments.change_payment",
            form=ProposeRefundForm(request.POST if request.method == "POST" else None),
            propose=lambda data, user_id: approvals.propose_payment_refund(
                payment_id=data["payment_id"].strip(),
                proposed_by_id=user_id,
                reason=data["reason"],
            ),
            title="Propose a refund for four-eyes approval",
            explanation="The refund is of what is left of the payment now; another staff "
            "member approves exactly that amount.",
        )

    def _propose(
        self,
        request: HttpRequest,
        *,
        permission: str,
        form: forms.Form,
        propose: Callable[[dict[str, Any], int], ApprovalRequest],
        title: str,
        explanation: str,
    ) -> HttpResponse:
        if not request.user.has_perm(permission):
            messages.error(request, "Your role cannot propose this operation.")
            return HttpResponseRedirect(reverse("admin:backoffice_approvalrequest_changelist"))
        if request.method == "POST" and form.is_valid():
            try:
                proposal = propose(form.cleaned_data, int(str(request.user.pk)))
            except PaymentHubError as refused:
                form.add_error(None, refused.message)
            else:
                messages.success(
                    request,
                    f"{proposal.public_id}: {proposal.summary} waits for another staff "
                    "member's approval.",
                )
                return HttpResponseRedirect(reverse("admin:backoffice_approvalrequest_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "items": [],
            "form": form,
            "action": "",
            "explanation": explanation,
        }
        return TemplateResponse(request, "admin/backoffice/approval_form.html", context)
