"""Reading and writing rows with written-out statements (apps.common.rows): the row stored is
the one ``save()`` would store, the statement is one INSERT or one UPDATE of exactly the named
columns, a loaded instance equals the one the ORM loads, and what this path cannot do the way
the ORM would is refused, not guessed."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from apps.common.clock import get_now
from apps.common.ids import make_public_id
from apps.common.models import ApiRequestLogEntry, AuditEvent, OutboxEvent
from apps.common.rows import (
    WrittenOutRowError,
    get_column_list,
    insert_row,
    insert_rows,
    load_instances,
    update_columns,
    write_rows,
)
from apps.common.tests.builders import build_request_log

pytestmark = pytest.mark.django_db


def build_event(**overrides) -> OutboxEvent:
    now = get_now()
    fields = {
        "public_id": make_public_id(prefix="evt"),
        "event_type": "test.rows_probe",
        "aggregate_type": "probe",
        "aggregate_id": "prb_1",
        "merchant_ref": "mch_rows",
        "payload": {"amount": 1999, "nested": {"list": [1, "two", None]}, "text": "é"},
        "available_at": now,
        "created_at": now,
    }
    return OutboxEvent(**{**fields, **overrides})


def stored_columns(event: OutboxEvent) -> dict:
    row = OutboxEvent.objects.filter(pk=event.pk).values().get()
    return {name: value for name, value in row.items() if name not in {"id", "public_id"}}


def test_an_inserted_row_holds_what_save_would_have_stored():
    by_orm = build_event()
    by_orm.save(force_insert=True)
    written_out = build_event(created_at=by_orm.created_at, available_at=by_orm.available_at)

    insert_row(written_out)

    assert stored_columns(written_out) == stored_columns(by_orm)
    assert stored_columns(written_out)["payload"] == by_orm.payload


def test_an_insert_is_one_statement_and_the_instance_then_counts_as_saved():
    event = build_event()

    with CaptureQueriesContext(connection) as queries:
        insert_row(event)

    assert len(queries.captured_queries) == 1
    assert queries.captured_queries[0]["sql"].startswith('INSERT INTO "common_outbox_event"')
    assert event.pk == OutboxEvent.objects.get(public_id=event.public_id).pk
    assert event._state.adding is False
    event.attempts = 3
    event.save()  # an UPDATE of the row just inserted, not a second INSERT
    assert OutboxEvent.objects.filter(public_id=event.public_id).values_list("attempts").get() == (
        3,
    )


def test_a_blank_ip_address_is_stored_as_null_as_the_orm_stores_it():
    now = get_now()
    audit = AuditEvent(
        sequence=987_654_321,
        public_id=make_public_id(prefix="aud"),
        occurred_at=now,
        actor_type="system",
        action="test.rows_probe",
        ip_address="",
        metadata={"k": "v"},
        prev_hash="0" * 64,
        hash="f" * 64,
    )

    insert_row(audit)

    assert AuditEvent.objects.filter(pk=audit.pk).values_list("ip_address", "metadata").get() == (
        None,
        {"k": "v"},
    )


def test_a_duplicate_insert_raises_integrity_error_and_stores_nothing_more():
    first = build_event()
    insert_row(first)

    with pytest.raises(IntegrityError), transaction.atomic():
        insert_row(build_event(public_id=first.public_id))

    assert OutboxEvent.objects.filter(public_id=first.public_id).count() == 1


def test_an_instance_already_saved_is_not_inserted_again():
    event = build_event()
    insert_row(event)

    with pytest.raises(WrittenOutRowError):
        insert_row(event)

    assert OutboxEvent.objects.filter(public_id=event.public_id).count() == 1


def test_an_update_sets_exactly_the_named_columns():
    event = build_event()
    insert_row(event)
    event.status = "failed"
    event.attempts = 2
    event.last_error = "not written: not named"

    with CaptureQueriesContext(connection) as queries:
        update_columns(event, attnames=["status", "attempts"])

    [statement] = [query["sql"] for query in queries.captured_queries]
    assert statement.startswith('UPDATE "common_outbox_event" SET "status" = ')
    assert '"attempts" = 2' in statement
    assert "last_error" not in statement
    stored = OutboxEvent.objects.get(pk=event.pk)
    assert (stored.status, stored.attempts, stored.last_error) == ("failed", 2, "")


def test_an_update_of_a_row_that_is_gone_raises_as_save_does():
    event = build_event()
    insert_row(event)
    OutboxEvent.objects.filter(pk=event.pk).delete()
    event.status = "failed"

    with pytest.raises(DatabaseError, match="did not affect any rows"):
        update_columns(event, attnames=["status"])


def test_an_expression_value_is_refused_and_nothing_is_written():
    event = build_event()
    insert_row(event)
    event.attempts = F("attempts") + 1

    with pytest.raises(WrittenOutRowError, match="expression"):
        update_columns(event, attnames=["attempts"])

    assert OutboxEvent.objects.get(pk=event.pk).attempts == 0
    with pytest.raises(WrittenOutRowError, match="expression"):
        insert_row(build_event(attempts=F("attempts")))
    assert OutboxEvent.objects.filter(event_type="test.rows_probe").count() == 1


def test_an_unsaved_instance_cannot_be_updated():
    with pytest.raises(WrittenOutRowError, match="not saved"):
        update_columns(build_event(), attnames=["status"])


SELECT_EVENTS_SQL = (
    f"SELECT {get_column_list(OutboxEvent)} FROM common_outbox_event "
    "WHERE event_type = %s ORDER BY id"
)


def test_loaded_instances_equal_the_ones_the_orm_loads():
    first, second = build_event(), build_event(payload={"other": [True, 2.5]})
    insert_row(first)
    insert_row(second)

    loaded = load_instances(OutboxEvent, sql=SELECT_EVENTS_SQL, params=["test.rows_probe"])

    by_orm = list(OutboxEvent.objects.filter(event_type="test.rows_probe").order_by("id"))
    assert [vars_of(event) for event in loaded] == [vars_of(event) for event in by_orm]
    assert loaded[1].payload == {"other": [True, 2.5]}  # jsonb parsed, not left as text
    assert loaded[0]._state.adding is False


def test_a_select_that_leaves_columns_out_is_refused():
    insert_row(build_event())

    with pytest.raises(WrittenOutRowError, match="every OutboxEvent column"):
        load_instances(
            OutboxEvent,
            sql="SELECT id, public_id FROM common_outbox_event WHERE event_type = %s",
            params=["test.rows_probe"],
        )


def vars_of(event: OutboxEvent) -> dict:
    return {field.attname: getattr(event, field.attname) for field in OutboxEvent._meta.fields}


@pytest.mark.django_db(transaction=True)
def test_a_row_written_without_waiting_for_the_flush_is_one_statement_and_the_session_keeps_its_setting():
    event = build_event()

    with CaptureQueriesContext(connection) as queries:
        insert_row(event, wait_for_flush=False)

    [statement] = [query["sql"] for query in queries.captured_queries]
    assert statement.endswith("set_config('synchronous_commit', 'off', true)")
    assert OutboxEvent.objects.filter(public_id=event.public_id).exists()
    with connection.cursor() as cursor:  # the setting lived only as long as the row's commit
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone() == ("on",)


def test_not_waiting_for_the_flush_is_refused_inside_a_transaction():
    with transaction.atomic(), pytest.raises(WrittenOutRowError, match="on its own"):
        insert_row(build_event(), wait_for_flush=False)

    assert not OutboxEvent.objects.filter(event_type="test.rows_probe").exists()


def test_rows_of_different_models_are_inserted_by_one_statement():
    event, log_entry = build_event(), build_request_log()

    with CaptureQueriesContext(connection) as queries:
        insert_rows(event, log_entry)

    assert len(queries.captured_queries) == 1
    assert event.pk == OutboxEvent.objects.get(public_id=event.public_id).pk
    assert log_entry.pk == ApiRequestLogEntry.objects.get(request_id="req_rows").pk
    assert (event._state.adding, log_entry._state.adding) == (False, False)


def test_when_one_row_of_a_statement_is_refused_none_is_stored():
    first = build_event()
    insert_row(first)

    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(build_request_log(), build_event(public_id=first.public_id))

    assert not ApiRequestLogEntry.objects.filter(request_id="req_rows").exists()
    assert OutboxEvent.objects.filter(public_id=first.public_id).count() == 1


def test_a_row_pointing_at_an_unsaved_row_before_it_gets_that_rows_new_key_in_the_same_statement():
    content_type = ContentType(app_label="rows_probe", model="probe")
    permission = Permission(name="Can probe", codename="probe_rows", content_type=content_type)

    with CaptureQueriesContext(connection) as queries:
        insert_rows(content_type, permission)

    assert len(queries.captured_queries) == 1
    assert permission.content_type_id == content_type.pk
    stored = Permission.objects.get(codename="probe_rows")
    assert (stored.pk, stored.content_type_id) == (permission.pk, content_type.pk)


def test_a_row_pointing_at_an_unsaved_row_not_written_before_it_is_refused_and_nothing_written():
    content_type = ContentType(app_label="rows_probe", model="probe")
    permission = Permission(name="Can probe", codename="probe_rows", content_type=content_type)

    with pytest.raises(WrittenOutRowError, match="not written before it"):
        insert_rows(permission, content_type)

    assert not ContentType.objects.filter(app_label="rows_probe").exists()
    assert not Permission.objects.filter(codename="probe_rows").exists()


def test_rows_of_one_statement_are_inserted_in_the_order_given():
    events = [build_event() for _ in range(4)]

    insert_rows(*events)

    keys = [event.pk for event in events]
    assert keys == sorted(keys)
    stored = OutboxEvent.objects.filter(pk__in=keys).order_by("pk")
    assert [row.public_id for row in stored] == [event.public_id for event in events]


class TestWritingUpdatesAndInsertsTogether:
    def test_updates_and_inserts_are_one_statement_and_the_rows_count_as_saved(self):
        first, second = build_event(), build_event()
        insert_rows(first, second)
        first.status, first.attempts = "failed", 3
        second.last_error = "timeout"
        log_entry = build_request_log()

        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            write_rows(
                updates=[(first, ["status", "attempts"]), (second, ["last_error"])],
                inserts=[log_entry],
            )

        [statement] = [
            query["sql"] for query in queries.captured_queries if "SAVEPOINT" not in query["sql"]
        ]
        assert statement.startswith("WITH updated_0 AS (UPDATE")
        stored_first = OutboxEvent.objects.get(pk=first.pk)
        stored_second = OutboxEvent.objects.get(pk=second.pk)
        assert (stored_first.status, stored_first.attempts) == ("failed", 3)
        assert (stored_second.status, stored_second.last_error) == ("pending", "timeout")
        assert log_entry.pk == ApiRequestLogEntry.objects.get(request_id="req_rows").pk
        assert not log_entry._state.adding

    def test_an_update_of_a_row_that_is_gone_raises_and_the_transaction_keeps_nothing(self):
        event = build_event()
        insert_row(event)
        OutboxEvent.objects.filter(pk=event.pk).delete()
        event.status = "failed"

        with pytest.raises(DatabaseError, match="did not affect any rows"), transaction.atomic():
            write_rows(updates=[(event, ["status"])], inserts=[build_request_log()])

        assert not ApiRequestLogEntry.objects.filter(request_id="req_rows").exists()

    def test_an_unsaved_row_cannot_be_updated_nor_a_saved_one_inserted(self):
        unsaved, saved = build_event(), build_event()
        insert_row(saved)

        with transaction.atomic():
            with pytest.raises(WrittenOutRowError, match="not saved yet"):
                write_rows(updates=[(unsaved, ["status"])])
            with pytest.raises(WrittenOutRowError, match="already saved"):
                write_rows(inserts=[saved])


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_an_update_of_a_gone_row_keeps_nothing_of_the_statement():
    kept, gone = build_event(), build_event()
    insert_rows(kept, gone)
    OutboxEvent.objects.filter(pk=gone.pk).delete()
    kept.status, gone.status = "failed", "failed"

    with pytest.raises(DatabaseError, match="did not affect any rows"):
        write_rows(updates=[(kept, ["status"]), (gone, ["status"])], inserts=[build_request_log()])

    assert OutboxEvent.objects.get(pk=kept.pk).status == "pending"
    assert not ApiRequestLogEntry.objects.filter(request_id="req_rows").exists()


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_updates_written_together_commit_together():
    event = build_event()
    insert_row(event)
    event.status = "failed"
    log_entry = build_request_log()

    write_rows(updates=[(event, ["status"])], inserts=[log_entry])

    assert OutboxEvent.objects.get(pk=event.pk).status == "failed"
    assert ApiRequestLogEntry.objects.filter(pk=log_entry.pk).exists()
