"""Operational alerts: an induced connector failure raises an alert once (deduplicated on
re-evaluation), notifies the owning staff group by e-mail and a chat webhook (a real HTTP
server on loopback), and resolves by itself when the connector recovers. Staff acknowledge
and resolve alerts in the admin, audited."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.backoffice.alerts import evaluate_alert_rules, get_alert_thresholds
from apps.backoffice.models import Alert, AlertStatus
from apps.backoffice.tests.helpers import api_client, make_merchant
from apps.common.config import clear_config_cache, publish_config
from apps.common.models import AuditEvent, OutboxEvent
from apps.common.testing.staff import make_superuser_client
from apps.merchants.facade import create_webhook_endpoint
from apps.payments import facade as payments
from apps.tokenization import facade as vault

pytestmark = pytest.mark.django_db


class ChatReceiver:
    """A chat tool's incoming webhook on 127.0.0.1."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.bodies.append(json.loads(body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/chat"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def chat(settings):
    receiver = ChatReceiver()
    settings.ALERT_WEBHOOK_URL = receiver.url
    yield receiver
    receiver.stop()


@pytest.fixture
def ops_engineer():
    user = get_user_model().objects.create_user(
        username="oncall@paymenthub.example",
        email="oncall@paymenthub.example",
        password="x" * 16,
        is_staff=True,
    )
    user.groups.add(Group.objects.get_or_create(name="ops")[0])
    return user


@pytest.fixture
def staff_client():
    client, user = make_superuser_client(username="lead@paymenthub.example")
    return client, user


def _pay(*, merchant_id: str, number: str = "4242424242424242"):
    token = vault.tokenize_card(
        merchant_id=merchant_id,
        mode="test",
        number=number,
        exp_month=12,
        exp_year=timezone.now().year + 2,
        cvc="123",
    ).id
    return api_client(merchant_id=merchant_id).post(
        "/v1/payments",
        data={"amount": 1200, "currency": "eur", "payment_method": token, "confirm": True},
        content_type="application/json",
    )


def _break_the_simulator(*, merchant_id: str) -> None:
    """Connection refused on every call until the circuit breaker opens."""
    failures = int(settings.CIRCUIT_FAILURE_THRESHOLD)
    payments.set_simulator_fault(mode="unavailable", count=failures)
    for _ in range(failures):
        refused = _pay(merchant_id=merchant_id).json()
        assert refused["last_payment_error"]["code"] == "processor_unavailable", refused
    assert payments.list_connector_circuit_states()["simulator"] == "open"


class TestCircuitOpenAlert:
    def test_an_induced_connector_failure_raises_one_alert_then_resolves_it(
        self, chat, ops_engineer, django_capture_on_commit_callbacks
    ):
        merchant_id = make_merchant()
        _break_the_simulator(merchant_id=merchant_id)

        with django_capture_on_commit_callbacks(execute=True):
            first = evaluate_alert_rules()
        assert "circuit_open:simulator" in first.raised
        alert = Alert.objects.get(key="circuit_open:simulator")
        assert (alert.status, alert.severity, alert.count) == ("open", "critical", 1)
        assert [message.to for message in mail.outbox] == [["oncall@paymenthub.example"]]
        assert "circuit breaker open" in mail.outbox[0].subject
        assert [body["alert"]["key"] for body in chat.bodies] == ["circuit_open:simulator"]
        assert alert.notified_at is not None

        # evaluated again while still open: the same alert, seen twice, nobody told again
        with django_capture_on_commit_callbacks(execute=True):
            second = evaluate_alert_rules()
        assert "circuit_open:simulator" in second.updated
        assert Alert.objects.filter(key="circuit_open:simulator").count() == 1
        assert Alert.objects.get(key="circuit_open:simulator").count == 2
        assert len(mail.outbox) == 1
        assert len(chat.bodies) == 1

        # the open period lapses (its Redis key expiring, done here without waiting): the
        # next payment is the half-open probe, succeeds and closes the circuit
        cache.delete("payments:circuit:simulator:open")
        assert _pay(merchant_id=merchant_id).status_code == 200
        assert payments.list_connector_circuit_states()["simulator"] == "closed"

        with django_capture_on_commit_callbacks(execute=True):
            third = evaluate_alert_rules()
        assert third.resolved == ["circuit_open:simulator"]
        alert.refresh_from_db()
        assert (alert.status, alert.resolved_by) == ("resolved", "system")
        assert len(mail.outbox) == 2
        assert "resolved" in mail.outbox[1].subject
        assert chat.bodies[-1]["alert"]["status"] == "resolved"

    def test_the_same_failure_after_resolution_is_a_new_alert(
        self, ops_engineer, django_capture_on_commit_callbacks
    ):
        merchant_id = make_merchant()
        _break_the_simulator(merchant_id=merchant_id)
        evaluate_alert_rules()
        cache.delete("payments:circuit:simulator:open")
        assert _pay(merchant_id=merchant_id).status_code == 200
        evaluate_alert_rules()
        _break_the_simulator(merchant_id=merchant_id)
        evaluate_alert_rules()
        assert list(
            Alert.objects.filter(key="circuit_open:simulator")
            .order_by("id")
            .values_list("status", flat=True)
        ) == ["resolved", "open"]

    def test_a_chat_webhook_that_is_down_does_not_stop_the_alert_or_the_email(
        self, settings, ops_engineer, django_capture_on_commit_callbacks
    ):
        dead = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
        settings.ALERT_WEBHOOK_URL = f"http://127.0.0.1:{dead.server_address[1]}/chat"
        dead.server_close()  # nothing listens there any more: connection refused
        _break_the_simulator(merchant_id=make_merchant())
        with django_capture_on_commit_callbacks(execute=True):
            evaluate_alert_rules()
        assert Alert.objects.get(key="circuit_open:simulator").status == "open"
        assert len(mail.outbox) == 1

    def test_nobody_is_emailed_when_the_owning_group_does_not_exist(
        self, django_capture_on_commit_callbacks
    ):
        _break_the_simulator(merchant_id=make_merchant())
        with django_capture_on_commit_callbacks(execute=True):
            evaluate_alert_rules()
        assert Alert.objects.filter(key="circuit_open:simulator", status="open").exists()
        assert mail.outbox == []


class TestOtherRules:
    def test_a_decline_spike_on_a_connector_raises_decline_and_success_rate_alerts(self, settings):
        settings.ALERT_THRESHOLDS = {"auth_min_attempts": 3}
        merchant_id = make_merchant()
        assert _pay(merchant_id=merchant_id).status_code == 200
        for _ in range(2):
            assert _pay(merchant_id=merchant_id, number="4000000000000002").status_code == 402
        result = evaluate_alert_rules()
        assert sorted(result.raised) == ["auth_success_drop:simulator", "decline_spike:simulator"]
        assert Alert.objects.get(key="decline_spike:simulator").details["declined"] == 2

    def test_a_merchant_whose_webhooks_fail_raises_a_support_alert_until_the_window_passes(
        self, settings
    ):
        settings.ALERT_THRESHOLDS = {"webhook_min_deliveries": 2}
        endpoint_down = ChatReceiver()
        endpoint_down.status = 500
        try:
            merchant_id = make_merchant()
            endpoint_id = create_webhook_endpoint(
                merchant_id=merchant_id, url=endpoint_down.url, mode="test"
            ).summary.endpoint_id
            for _ in range(2):
                payments.send_test_webhook(
                    merchant_id=merchant_id, mode="test", endpoint_id=endpoint_id, actor_id="1"
                )
        finally:
            endpoint_down.stop()
        assert len(endpoint_down.bodies) == 2

        result = evaluate_alert_rules()

        assert result.raised == [f"webhook_failures:{merchant_id}"]
        alert = Alert.objects.get(key=f"webhook_failures:{merchant_id}")
        assert (alert.owner_group, alert.details["failing"]) == ("support", 2)
        later = timezone.now() + timedelta(minutes=16)  # the failures leave the window
        assert evaluate_alert_rules(now=later).resolved == [f"webhook_failures:{merchant_id}"]

    def test_an_outbox_event_waiting_too_long_raises_an_outbox_lag_alert(self):
        OutboxEvent.objects.create(
            public_id="evt_stuck_for_alerts",
            event_type="payment.succeeded",
            created_at=timezone.now() - timedelta(hours=1),
            available_at=timezone.now() - timedelta(hours=1),
        )
        result = evaluate_alert_rules()
        assert "outbox_lag" in result.raised
        OutboxEvent.objects.filter(public_id="evt_stuck_for_alerts").update(
            status="dispatched", dispatched_at=timezone.now()
        )
        assert "outbox_lag" in evaluate_alert_rules().resolved

    def test_an_outbox_event_the_relay_gave_up_on_raises_an_alert_until_requeued(self):
        from apps.common.outbox import requeue_failed_event

        OutboxEvent.objects.create(
            public_id="evt_parked_for_alerts",
            event_type="payment.succeeded",
            status="failed",
            attempts=25,
            created_at=timezone.now() - timedelta(days=1),
            available_at=timezone.now() - timedelta(days=1),
        )
        result = evaluate_alert_rules()
        assert "outbox_parked" in result.raised
        assert Alert.objects.get(key="outbox_parked").details == {"parked_events": 1}

        assert requeue_failed_event(event_id="evt_parked_for_alerts", reason="relay fixed")
        assert "outbox_parked" in evaluate_alert_rules().resolved

    def test_thresholds_come_from_settings_over_the_defaults(self, settings):
        settings.ALERT_THRESHOLDS = {"outbox_lag_max_seconds": 42}
        assert get_alert_thresholds()["outbox_lag_max_seconds"] == 42
        assert get_alert_thresholds()["window_minutes"] == 15

    def test_a_published_alerts_thresholds_document_wins_over_settings(self, settings):
        settings.ALERT_THRESHOLDS = {"outbox_lag_max_seconds": 42}
        publish_config(
            key="alerts.thresholds",
            body={"outbox_lag_max_seconds": 7, "error_max_rate": 0.3},
            actor_type="system",
        )
        clear_config_cache()
        try:
            thresholds = get_alert_thresholds()
        finally:
            clear_config_cache()  # the rolled-back version must not outlive this test
        assert (thresholds["outbox_lag_max_seconds"], thresholds["error_max_rate"]) == (7, 0.3)


class TestAlertAdmin:
    def _open_alert(self) -> Alert:
        now = timezone.now()
        return Alert.objects.create(
            key="outbox_lag",
            rule="outbox_lag",
            severity="critical",
            owner_group="ops",
            summary="Outbox relay lagging",
            first_seen_at=now,
            last_seen_at=now,
        )

    def test_the_list_filters_by_status_and_severity(self, staff_client):
        client, _ = staff_client
        self._open_alert()
        response = client.get(
            "/admin/backoffice/alert/?status__exact=open&severity__exact=critical"
        )
        assert response.status_code == 200
        assert b"Outbox relay lagging" in response.content
        assert b"Support timeline" in response.content

    def test_staff_acknowledge_then_resolve_an_alert_and_both_are_audited(self, staff_client):
        client, user = staff_client
        alert = self._open_alert()
        for action in ("acknowledge_alerts", "resolve_alerts"):
            response = client.post(
                "/admin/backoffice/alert/", {"action": action, "_selected_action": [alert.pk]}
            )
            assert response.status_code == 302
        alert.refresh_from_db()
        assert alert.status == AlertStatus.RESOLVED
        assert alert.acknowledged_by == alert.resolved_by == str(user.pk)
        audited = AuditEvent.objects.filter(object_type="alert", object_id=str(alert.pk))
        assert sorted(audited.values_list("action", flat=True)) == [
            "alert.acknowledged",
            "alert.resolved",
        ]
        assert set(audited.values_list("actor_id", flat=True)) == {str(user.pk)}

    def test_two_open_alerts_with_one_key_are_refused_by_the_database(self):
        from django.db import IntegrityError, transaction

        self._open_alert()
        with pytest.raises(IntegrityError), transaction.atomic():
            self._open_alert()


@pytest.mark.django_db(transaction=True)
def test_evaluators_racing_on_one_condition_open_one_alert():
    _break_the_simulator(merchant_id=make_merchant())
    racers = 4
    barrier = threading.Barrier(racers)
    raised: list[list[str]] = []
    errors: list[BaseException] = []

    def evaluate() -> None:
        try:
            barrier.wait()
            raised.append(evaluate_alert_rules().raised)
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=evaluate) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(keys.count("circuit_open:simulator") for keys in raised) == 1
    [alert] = Alert.objects.filter(key="circuit_open:simulator")
    assert (alert.status, alert.count) == ("open", racers)


def test_staff_who_may_only_view_alerts_cannot_acknowledge_or_resolve_them():
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user(
        username="reader@paymenthub.example", password="x" * 16, is_staff=True
    )
    user.user_permissions.add(Permission.objects.get(codename="view_alert"))
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    now = timezone.now()
    alert = Alert.objects.create(
        key="outbox_lag",
        rule="outbox_lag",
        severity="critical",
        summary="Outbox relay lagging",
        first_seen_at=now,
        last_seen_at=now,
    )
    assert client.get("/admin/backoffice/alert/").status_code == 200
    client.post(
        "/admin/backoffice/alert/", {"action": "resolve_alerts", "_selected_action": [alert.pk]}
    )
    alert.refresh_from_db()
    assert alert.status == "open"
    assert not AuditEvent.objects.filter(object_type="alert").exists()
