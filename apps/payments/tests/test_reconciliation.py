"""Reconciliation of the simulator's settlement file against the ledger: real payments through
the simulator, its real export, reports crafted from it, the set-based match, the breaks."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.common.models import OutboxEvent
from apps.common.money import Money
from apps.payments.connectors.simulator import export_settlement_report
from apps.payments.models import PaymentAttempt
from apps.payments.reconciliation.errors import (
    BreakAlreadyClosedError,
    InvalidSettlementReportError,
)
from apps.payments.reconciliation.importers import import_settlement_file
from apps.payments.reconciliation.models import (
    ReconciliationBreak,
    ReconciliationReport,
    ReconciliationReportLine,
    ReconciliationRun,
)
from apps.payments.reconciliation.services import (
    reconcile_recent_days,
    resolve_break,
    run_reconciliation,
)
from apps.payments.services import confirm_payment, create_payment, create_refund
from apps.payments.tests.api_helpers import make_token

pytestmark = pytest.mark.django_db
HEADER = ["processor_reference", "type", "gross", "fee", "net", "currency", "date"]


def _pay(merchant_id, *, amount_minor=10_000, number="4242424242424242"):
    token = make_token(merchant_id=merchant_id, number=number)
    payment = create_payment(
        merchant_id=merchant_id,
        mode="test",
        amount=Money(amount_minor=amount_minor, currency="EUR"),
        payment_method=token,
    )
    return confirm_payment(merchant_id=merchant_id, mode="test", payment_id=payment.public_id)


def _refund(payment, amount_minor):
    refund = create_refund(
        merchant_id=payment.merchant_ref,
        mode="test",
        payment_id=payment.public_id,
        amount_minor=amount_minor,
    )
    return PaymentAttempt.objects.get(refund=refund)


def _today():
    return timezone.now().date()


def _rows(day):
    return list(csv.DictReader(io.StringIO(export_settlement_report(report_date=day))))


def _csv(rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _import(rows, day=None):
    day = day or _today()
    return import_settlement_file(connector="simulator", report_date=day, data=_csv(rows))


def _run(day=None):
    day = day or _today()
    return run_reconciliation(connector="simulator", start=day, end=day, triggered_by="test")


def _breaks(run):
    return {
        (found.kind, found.line_type, found.processor_reference)
        for found in ReconciliationBreak.objects.filter(last_seen_run=run)
    }


def _alerts():
    return OutboxEvent.objects.filter(event_type="reconciliation.breaks_found")


class TestSimulatorSettlementFile:
    def test_the_export_lists_charges_net_of_the_merchants_fee_and_refunds_without_one(
        self, merchant_id
    ):
        payment = _pay(merchant_id)
        refund_attempt = _refund(payment, 2_500)
        rows = _rows(_today())
        assert rows == [
            {
                "processor_reference": payment.processor_reference,
                "type": "charge",
                "gross": "10000",
                "fee": "320",  # 2.9 % + 30
                "net": "9680",
                "currency": "EUR",
                "date": _today().isoformat(),
            },
            {
                "processor_reference": refund_attempt.processor_reference,
                "type": "refund",
                "gross": "-2500",
                "fee": "0",
                "net": "-2500",
                "currency": "EUR",
                "date": _today().isoformat(),
            },
        ]

    def test_another_days_file_does_not_list_todays_operations(self, merchant_id):
        _pay(merchant_id)
        assert _rows(_today() - timedelta(days=1)) == []


class TestMatching:
    def test_a_clean_day_matches_every_line_and_raises_no_alert(self, merchant_id):
        first = _pay(merchant_id)
        _pay(merchant_id, amount_minor=4_321)
        _refund(first, 1_000)
        _import(_rows(_today()))
        run = _run()
        assert (run.line_count, run.matched_count, run.open_break_count) == (3, 3, 0)
        assert run.break_counts == {}
        assert not ReconciliationBreak.objects.exists()
        assert not _alerts().exists()

    def test_a_crafted_report_produces_every_kind_of_break(self, merchant_id):
        ok, short, overcharged, unreported, doubled = (_pay(merchant_id) for _ in range(5))
        refund_attempt = _refund(ok, 1_000)
        rows = {row["processor_reference"]: row for row in _rows(_today())}
        rows[short.processor_reference]["gross"] = "9999"  # the processor paid less
        rows[short.processor_reference]["net"] = "9679"
        rows[overcharged.processor_reference]["fee"] = "400"  # it took a higher fee
        rows[overcharged.processor_reference]["net"] = "9600"
        del rows[unreported.processor_reference]  # the ledger booked it; the processor did not
        crafted = [*rows.values(), dict(rows[doubled.processor_reference])]  # listed twice
        crafted.append(  # a charge the platform never booked
            {**rows[ok.processor_reference], "processor_reference": "simch_nobodyknowsthis"}
        )
        _import(crafted)
        run = _run()
        assert _breaks(run) == {
            ("amount_mismatch", "charge", short.processor_reference),
            ("fee_mismatch", "charge", overcharged.processor_reference),
            ("missing_in_report", "charge", unreported.processor_reference),
            ("duplicate", "charge", doubled.processor_reference),
            ("missing_in_ledger", "charge", "simch_nobodyknowsthis"),
        }
        # ok's charge, its refund, and the first copy of doubled's charge match
        assert run.matched_count == 3
        assert refund_attempt.processor_reference not in {ref for _, _, ref in _breaks(run)}
        assert run.break_counts == {
            "amount_mismatch": 1,
            "duplicate": 1,
            "fee_mismatch": 1,
            "missing_in_ledger": 1,
            "missing_in_report": 1,
        }
        assert run.open_break_count == 5

    def test_a_break_keeps_what_each_side_says_and_where_it_comes_from(self, merchant_id):
        short = _pay(merchant_id)
        rows = _rows(_today())
        rows[0]["gross"], rows[0]["net"] = "9000", "8680"
        imported = _import(rows)
        found = ReconciliationBreak.objects.get(last_seen_run=_run())
        assert found.kind == "amount_mismatch"
        assert found.payment_id == short.pk
        assert found.report_line == ReconciliationReportLine.objects.get(
            report__public_id=imported.report_id
        )
        assert (found.report_gross_minor, found.report_fee_minor) == (9_000, 320)
        assert (found.ledger_gross_minor, found.ledger_fee_minor) == (10_000, 320)
        assert found.ledger_entry_id.startswith("je_")
        assert found.context["payment"] == short.public_id
        assert found.context["ledger_entry"] == found.ledger_entry_id
        assert found.context["merchant"] == merchant_id
        assert found.context["report"] == imported.report_id
        assert found.context["line_number"] == 1

    def test_a_dispute_the_ledger_has_not_booked_is_missing_in_the_ledger(self, merchant_id):
        disputed = _pay(merchant_id, number="4000000000000259")
        _import(_rows(_today()))
        run = _run()
        assert _breaks(run) == {("missing_in_ledger", "dispute", disputed.processor_reference)}
        found = ReconciliationBreak.objects.get(last_seen_run=run)
        assert found.payment_id == disputed.pk  # the payment is known, its dispute is not
        assert found.report_gross_minor == -10_000

    def test_a_refund_the_processor_never_paid_is_missing_in_the_report(self, merchant_id):
        payment = _pay(merchant_id, number="4000000000005126")  # refunds fail asynchronously
        _refund(payment, 3_000)
        _import(_rows(_today()))
        run = _run()
        found = ReconciliationBreak.objects.get(last_seen_run=run)
        assert (found.kind, found.line_type, found.ledger_gross_minor) == (
            "missing_in_report",
            "refund",
            -3_000,
        )
        assert found.report_line is None

    def test_a_capture_reported_the_next_day_matches_and_neither_day_misses_it(self, merchant_id):
        _pay(merchant_id)
        tomorrow = _today() + timedelta(days=1)
        late = [{**row, "date": tomorrow.isoformat()} for row in _rows(_today())]
        _import([], day=_today())  # the processor's report for today does not list it yet
        assert _run().open_break_count == 1  # missing_in_report, for now
        _import(late, day=tomorrow)
        next_day = _run(tomorrow)
        assert (next_day.line_count, next_day.matched_count, next_day.open_break_count) == (
            1,
            1,
            0,
        )
        again = _run()
        assert again.open_break_count == 0
        assert ReconciliationBreak.objects.get().status == "cleared"

    def test_a_run_with_breaks_raises_one_alert_event_with_the_counts(self, merchant_id):
        _pay(merchant_id)
        _import([])
        run = _run()
        alert = _alerts().get()
        assert alert.public_id == run.alert_event_id
        assert alert.aggregate_id == run.public_id
        assert alert.payload["open_breaks"] == 1
        assert alert.payload["breaks_by_kind"] == {"missing_in_report": 1}
        assert alert.payload["connector"] == "simulator"


class TestReimportAndRerun:
    def test_importing_the_same_report_again_stages_nothing_new(self, merchant_id):
        _pay(merchant_id)
        data = _csv(_rows(_today()))
        first = import_settlement_file(connector="simulator", report_date=_today(), data=data)
        again = import_settlement_file(connector="simulator", report_date=_today(), data=data)
        assert first.created
        assert not again.created
        assert again.report_id == first.report_id
        assert ReconciliationReport.objects.count() == 1
        assert ReconciliationReportLine.objects.count() == 1

    def test_running_again_updates_the_known_break_instead_of_adding_one(self, merchant_id):
        _pay(merchant_id)
        _import([])
        first = _run()
        second = _run()
        found = ReconciliationBreak.objects.get()
        assert (found.run, found.last_seen_run) == (first, second)
        assert second.open_break_count == 1

    def test_a_corrected_report_supersedes_the_first_and_clears_its_breaks(self, merchant_id):
        payment = _pay(merchant_id)
        rows = _rows(_today())
        wrong = [{**rows[0], "gross": "1", "fee": "0", "net": "1"}]
        first = _import(wrong)
        _run()
        assert ReconciliationBreak.objects.get().status == "open"
        corrected = _import(rows)
        assert corrected.superseded == (first.report_id,)
        run = _run()
        assert run.matched_count == 1
        assert run.cleared_count == 1
        cleared = ReconciliationBreak.objects.get()
        assert cleared.status == "cleared"
        assert cleared.processor_reference == payment.processor_reference
        assert run.public_id in cleared.resolution_reason

    def test_importing_a_superseded_report_again_makes_it_the_live_one(self, merchant_id):
        _pay(merchant_id)
        rows = _rows(_today())
        first = _import(rows)
        second = _import([])
        assert second.superseded == (first.report_id,)
        again = _import(rows)
        assert not again.created
        assert again.report_id == first.report_id
        assert again.superseded == (second.report_id,)
        assert _run().matched_count == 1

    def test_a_resolved_break_stays_resolved_when_found_again(self, merchant_id):
        _pay(merchant_id)
        _import([])
        _run()
        found = ReconciliationBreak.objects.get()
        resolve_break(break_id=found.public_id, reason="booked late, accepted", staff_user_id="7")
        again = _run()
        found.refresh_from_db()
        assert found.status == "resolved"
        assert found.last_seen_run == again
        assert again.open_break_count == 0
        assert not _alerts().filter(aggregate_id=again.public_id).exists()


class TestInvalidReports:
    def test_a_file_with_another_header_is_refused_and_nothing_is_staged(self):
        with pytest.raises(InvalidSettlementReportError, match="could not be read"):
            import_settlement_file(
                connector="simulator",
                report_date=_today(),
                data=b"reference,amount\nsimch_x,100\n",
            )
        assert not ReconciliationReport.objects.exists()

    @pytest.mark.parametrize(
        ("field", "value", "problem"),
        [
            ("gross", "12.50", "gross is not an integer"),
            ("type", "payout", "type must be charge, refund or dispute"),
            ("currency", "eur", "currency is not an ISO 4217 code"),
            ("net", "1", "net is not gross minus fee"),
            ("date", "24/11/2026", "date is not YYYY-MM-DD"),
        ],
    )
    def test_a_malformed_line_is_named_and_nothing_is_staged(self, field, value, problem):
        good = {
            "processor_reference": "simch_a",
            "type": "charge",
            "gross": "100",
            "fee": "0",
            "net": "100",
            "currency": "EUR",
            "date": _today().isoformat(),
        }
        with pytest.raises(InvalidSettlementReportError, match=problem) as refused:
            _import([good, {**good, field: value}])
        assert refused.value.extra == {"line": 2}
        assert refused.value.to_envelope()["error"]["code"] == "invalid_settlement_report"
        assert not ReconciliationReport.objects.exists()

    def test_an_impossible_date_is_refused(self):
        row = {
            "processor_reference": "simch_a",
            "type": "charge",
            "gross": "100",
            "fee": "0",
            "net": "100",
            "currency": "EUR",
            "date": "2026-02-30",
        }
        with pytest.raises(InvalidSettlementReportError, match="impossible value"):
            _import([row])


class TestResolveBreak:
    def test_resolving_needs_a_reason_and_an_open_break(self, merchant_id):
        _pay(merchant_id)
        _import([])
        _run()
        found = ReconciliationBreak.objects.get()
        with pytest.raises(Exception, match="reason is required"):
            resolve_break(break_id=found.public_id, reason="  ", staff_user_id="7")
        resolve_break(break_id=found.public_id, reason="known", staff_user_id="7")
        with pytest.raises(BreakAlreadyClosedError):
            resolve_break(break_id=found.public_id, reason="again", staff_user_id="7")


class TestCommandAndDailyJob:
    def test_the_command_imports_the_days_and_prints_the_run_and_its_breaks(self, merchant_id):
        _pay(merchant_id)
        _pay(merchant_id)
        out = io.StringIO()
        day = _today().isoformat()
        call_command("reconcile", "--from", day, "--to", day, stdout=out)
        text = out.getvalue()
        assert f"simulator {day}: 2 lines, imported" in text
        assert "2 lines, 2 matched, 0 open breaks (none)" in text
        again = io.StringIO()
        call_command("reconcile", "--from", day, "--to", day, "--staged-only", stdout=again)
        assert "2 matched" in again.getvalue()
        assert "imported" not in again.getvalue()

    def test_the_command_lists_open_breaks(self, merchant_id):
        payment = _pay(merchant_id)
        _import([])
        out = io.StringIO()
        day = _today().isoformat()
        call_command("reconcile", "--from", day, "--to", day, "--staged-only", stdout=out)
        assert "1 open breaks (missing_in_report 1)" in out.getvalue()
        assert f"missing_in_report charge {payment.processor_reference}" in out.getvalue()

    def test_the_command_refuses_a_backwards_range(self):
        with pytest.raises(CommandError, match="from must not be after to"):
            call_command("reconcile", "--from", "2026-11-02", "--to", "2026-11-01")

    def test_the_daily_job_reconciles_the_days_up_to_yesterday(self, merchant_id, settings):
        settings.RECONCILIATION_LOOKBACK_DAYS = 2
        settings.RECONCILIATION_CONNECTORS = ["simulator"]
        _pay(merchant_id)
        tomorrow = _today() + timedelta(days=1)
        (run_id,) = reconcile_recent_days(today=tomorrow)
        run = ReconciliationRun.objects.get(public_id=run_id)
        assert (run.period_start, run.period_end) == (_today() - timedelta(days=1), _today())
        assert (run.line_count, run.matched_count, run.triggered_by) == (1, 1, "beat")
        assert ReconciliationReport.objects.filter(connector="simulator").count() == 2
        reconcile_recent_days(today=tomorrow)  # twice: nothing new staged, nothing broken
        assert ReconciliationReport.objects.count() == 2
        assert not ReconciliationBreak.objects.exists()


class TestADispute:
    def test_booked_in_the_ledger_and_reported_is_matched_not_a_break(self, merchant_id):
        from apps.payments import disputes
        from apps.payments.models import Dispute

        payment = _pay(merchant_id, number="4000000000000259")  # disputed after capture
        disputes.sync_processor_notifications()  # the ledger books the withdrawal
        assert Dispute.objects.filter(payment_id=payment.pk).count() == 1
        today = timezone.now().date()
        report = export_settlement_report(report_date=today)
        assert ",dispute,-10000," in report
        import_settlement_file(connector="simulator", report_date=today, data=report.encode())

        run = run_reconciliation(connector="simulator", start=today, end=today, triggered_by="t")

        assert not ReconciliationBreak.objects.filter(last_seen_run=run).exists()

    def test_booked_in_the_ledger_but_never_reported_is_missing_in_report(self, merchant_id):
        from apps.payments import disputes

        payment = _pay(merchant_id, number="4000000000000259")
        disputes.sync_processor_notifications()
        today = timezone.now().date()
        report = export_settlement_report(report_date=today)
        without_dispute = "\n".join(line for line in report.splitlines() if ",dispute," not in line)
        import_settlement_file(
            connector="simulator", report_date=today, data=without_dispute.encode()
        )

        run = run_reconciliation(connector="simulator", start=today, end=today, triggered_by="t")

        breaks = ReconciliationBreak.objects.filter(last_seen_run=run)
        assert list(breaks.values_list("kind", "line_type", "payment_id")) == [
            ("missing_in_report", "dispute", payment.pk)
        ]
