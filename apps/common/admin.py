"""Admin of the shared kernel: the audit log (read-only, filterable, chain verification), the
outbox (read-only) and the job runs (read-only). The tables are large: no full result count,
filters that do not scan for distinct values (typed-in filters, served by the indexes)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.timezone import make_aware

from apps.common.admin_base import ReadOnlyModelAdmin, ask_for_reason, bind_reason_form
from apps.common.audit import verify_audit_chain
from apps.common.models import AuditEvent, JobRun, OutboxEvent
from apps.common.outbox import requeue_failed_event


class InputFilter(admin.SimpleListFilter):
    """A filter typed into a box (no SELECT DISTINCT over a large table)."""

    template = "admin/common/input_filter.html"
    lookup_field = ""

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("", "")]  # the template draws a box; Django needs a non-empty list

    def choices(self, changelist: Any) -> Any:
        # the other parameters, kept as hidden fields of the box's form
        yield {
            "parameter_name": self.parameter_name,
            "value": self.value() or "",
            "others": [
                (key, item)
                for key, value in changelist.get_filters_params().items()
                if key != self.parameter_name
                for item in (value if isinstance(value, list) else [value])
            ],
        }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = (self.value() or "").strip()
        return queryset.filter(**{self.lookup_field: value}) if value else queryset


def _input_filter(title_: str, parameter: str, lookup: str) -> type[InputFilter]:
    return type(
        f"{parameter.title().replace('_', '')}Filter",
        (InputFilter,),
        {"title": title_, "parameter_name": parameter, "lookup_field": lookup},
    )


def _day_start(value: str) -> datetime | None:
    parsed = parse_datetime(value)
    if parsed is None:
        day = parse_date(value)
        parsed = datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None
    if parsed is not None and parsed.tzinfo is None:
        parsed = make_aware(parsed)
    return parsed


class DateBoundFilter(InputFilter):
    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = (self.value() or "").strip()
        bound = _day_start(value) if value else None
        return queryset.filter(**{self.lookup_field: bound}) if bound else queryset


class OccurredFromFilter(DateBoundFilter):
    title = "from (YYYY-MM-DD)"
    parameter_name = "from"
    lookup_field = "occurred_at__gte"


class OccurredBeforeFilter(DateBoundFilter):
    title = "before (YYYY-MM-DD)"
    parameter_name = "before"
    lookup_field = "occurred_at__lt"


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyModelAdmin):
    """The append-only audit trail: nothing is added, changed or deleted here (the database
    refuses it anyway). "Verify the chain" recomputes every hash."""

    list_display = (
        "sequence",
        "occurred_at",
        "action",
        "actor_type",
        "actor_id",
        "object_type",
        "object_id",
        "merchant_ref",
        "ip_address",
    )
    list_filter = (
        "actor_type",
        _input_filter("action", "action", "action"),
        _input_filter("actor id", "actor", "actor_id"),
        _input_filter("object id", "object", "object_id"),
        _input_filter("merchant", "merchant", "merchant_ref"),
        OccurredFromFilter,
        OccurredBeforeFilter,
    )
    search_fields = ("=public_id", "=object_id", "=request_id")
    show_full_result_count = False
    list_per_page = 50
    change_list_template = "admin/common/auditevent/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEvent]:
        return super().get_queryset(request).order_by("-sequence")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in AuditEvent._meta.fields]

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "verify-chain/",
                self.admin_site.admin_view(self.verify_chain_view),
                name="common_auditevent_verify_chain",
            ),
            *super().get_urls(),
        ]

    def verify_chain_view(self, request: HttpRequest) -> HttpResponse:
        """Recompute the chain and say whether it holds (POST only: it reads the whole log)."""
        changelist = reverse("admin:common_auditevent_changelist")
        if request.method != "POST" or not self.has_view_permission(request):
            return HttpResponseRedirect(changelist)
        report = verify_audit_chain()
        if report.ok:
            messages.success(
                request, f"The audit chain verifies: {report.checked} entries checked."
            )
        else:
            messages.error(
                request,
                f"The audit chain does NOT verify at position {report.first_bad_position}: "
                f"{report.problem} ({report.checked} entries checked).",
            )
        return HttpResponseRedirect(changelist)


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyModelAdmin):
    """Domain events as written (read-only); the relay publishes them."""

    list_display = (
        "public_id",
        "event_type",
        "merchant_ref",
        "status",
        "attempts",
        "created_at",
        "dispatched_at",
    )
    list_filter = (
        "status",
        _input_filter("event type", "event_type", "event_type"),
        _input_filter("merchant", "merchant", "merchant_ref"),
        _input_filter("aggregate id", "aggregate", "aggregate_id"),
    )
    search_fields = ("=public_id", "=aggregate_id")
    show_full_result_count = False
    actions = ("requeue_events",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in OutboxEvent._meta.fields]

    def has_requeue_permission(self, request: HttpRequest) -> bool:
        """Ops may requeue (the model's change permission: the rows stay read-only)."""
        return bool(request.user.has_perm("common.change_outboxevent"))

    @admin.action(description="Send parked events again", permissions=["requeue"])
    def requeue_events(
        self, request: HttpRequest, queryset: QuerySet[OutboxEvent]
    ) -> TemplateResponse | None:
        """A parked (failed) event gets a new round of attempts, with a reason, audited."""
        form = bind_reason_form(request)
        if not (form.is_bound and form.is_valid()):
            return ask_for_reason(
                self,
                request,
                queryset,
                title="Send parked events again",
                action="requeue_events",
                form=form,
                describe=lambda event: (
                    f"{event.public_id}: {event.event_type} ({event.status}, "
                    f"{event.attempts} attempts, last error: {event.last_error[:120] or '-'})"
                ),
                explanation="Each parked event gets a new round of attempts from the relay.",
            )
        requeued = skipped = 0
        for event in queryset:
            if requeue_failed_event(
                event_id=event.public_id,
                actor_id=str(request.user.pk),
                reason=form.cleaned_data["reason"],
                ip_address=request.META.get("REMOTE_ADDR"),
            ):
                requeued += 1
            else:
                skipped += 1
        if requeued:
            self.message_user(request, f"{requeued} parked event(s) queued again.")
        if skipped:
            self.message_user(
                request,
                f"{skipped} event(s) were not parked (pending or published) and were left as "
                "they are.",
                level=messages.WARNING,
            )
        return None


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyModelAdmin):
    """Every recorded run of a scheduled job (settlement, payouts, reconciliation, retention):
    what failed, when, with the start of its error. Read-only; the retention job prunes old
    runs and keeps each job's newest."""

    list_display = ("name", "status", "started_at", "finished_at", "duration", "error_excerpt")
    list_filter = ("status", _input_filter("job name", "job", "name"))
    search_fields = ("=name",)
    date_hierarchy = "started_at"
    ordering = ("-started_at", "-id")
    show_full_result_count = False

    @admin.display(description="duration")
    def duration(self, obj: JobRun) -> str:
        if obj.finished_at is None:
            return "-"
        seconds = (obj.finished_at - obj.started_at).total_seconds()
        return f"{seconds:.1f} s"

    @admin.display(description="error")
    def error_excerpt(self, obj: JobRun) -> str:
        return obj.error[:120]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in JobRun._meta.fields]
