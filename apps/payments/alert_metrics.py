"""Reads for the back office's alert rules: small aggregates over a recent window, across
merchants (platform-wide health, never shown to a merchant)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.conf import settings
from django.db.models import Count

from apps.payments.connectors.circuit import get_circuit_name, get_circuit_state
from apps.payments.connectors.registry import list_connector_modes
from apps.payments.models import PaymentAttempt, RoutingRule, WebhookDelivery
from apps.payments.reconciliation.models import BreakStatus, ReconciliationBreak
from apps.payments.routing_config import get_routing_table

NO_CONNECTOR = "none"  # attempts refused before any connector was called (all circuits open)


def count_authorization_attempts(*, since: datetime) -> dict[str, dict[str, int]]:
    """Authorization attempts created since ``since``: connector → attempt status → count
    (one grouped query; attempts still in flight are left out)."""
    rows = (
        PaymentAttempt.objects.filter(kind="authorize", created_at__gte=since)
        .exclude(status__in=["reserved", "pending"])
        .values("connector", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for row in rows:
        counts[row["connector"] or NO_CONNECTOR][row["status"]] = row["n"]
    return dict(counts)


def count_webhook_deliveries(*, since: datetime) -> dict[str, tuple[int, int]]:
    """Webhook deliveries created since ``since`` that were tried at least once:
    merchant → (tried, not delivered)."""
    rows = (
        WebhookDelivery.objects.filter(created_at__gte=since, attempts__gt=0)
        .values("merchant_ref", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        counts[row["merchant_ref"]][0] += row["n"]
        if row["status"] != "delivered":
            counts[row["merchant_ref"]][1] += row["n"]
    return {merchant: (tried, failing) for merchant, (tried, failing) in counts.items()}


def list_known_connectors() -> list[str]:
    """Every connector payments may be routed to: the default lists, enabled rules and the
    ``routing.rules`` document in force."""
    names = {
        *getattr(settings, "PAYMENTS_TEST_CONNECTORS", ["simulator"]),
        *getattr(settings, "PAYMENTS_LIVE_CONNECTORS", ["stripe"]),
    }
    for connectors in RoutingRule.objects.filter(enabled=True).values_list("connectors", flat=True):
        names.update(connectors or [])
    table = get_routing_table()
    if table is not None:
        names.update(table.list_connectors())
    return sorted(str(name) for name in names)


def list_connector_circuit_states() -> dict[str, str]:
    """circuit → state (closed, open, half_open), as every process sees it: one circuit per
    connector and mode it serves here (``stripe`` for test mode, ``stripe:live`` for live;
    ``circuit.get_circuit_name``)."""
    states = {}
    for name in list_known_connectors():
        for mode in list_connector_modes(name=name):
            circuit = get_circuit_name(connector=name, mode=mode)
            states[circuit] = str(get_circuit_state(connector=circuit))
    return states


def count_open_reconciliation_breaks() -> dict[str, int]:
    """connector → reconciliation breaks still open (neither resolved nor cleared)."""
    rows = (
        ReconciliationBreak.objects.filter(status=BreakStatus.OPEN)
        .values("connector")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["connector"]: row["n"] for row in rows}
