"""The connection the application runs on prepares what it runs repeatedly (server-side
binding, psycopg's prepare_threshold), so PostgreSQL does not parse and plan the payment path's
statements on every request."""

from __future__ import annotations

import pytest
from django.db import connection

from apps.common.models import OutboxEvent

pytestmark = pytest.mark.django_db


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_a_query_run_repeatedly_on_a_connection_is_prepared_on_the_server():
    for _ in range(6):
        list(OutboxEvent.objects.filter(public_id="evt_missing").values_list("id", flat=True))

    prepared = _prepared_statements()

    assert any('FROM "common_outbox_event"' in statement for statement in prepared), prepared


def test_parameters_travel_apart_from_the_statement_text():
    for _ in range(6):
        list(OutboxEvent.objects.filter(public_id="evt_missing").values_list("id", flat=True))

    event_statements = [s for s in _prepared_statements() if '"common_outbox_event"' in s]

    assert event_statements
    assert all("evt_missing" not in statement for statement in event_statements)
    assert all("$1" in statement for statement in event_statements)
