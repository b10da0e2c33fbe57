import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.common.audit import (
    GENESIS_HASH,
    canonicalize_audit_entry,
    compute_audit_hash,
    record_audit_event,
    verify_audit_chain,
)
from apps.common.models import AuditChainHead, AuditEvent


def _record(n: int, **extra):
    return [
        record_audit_event(
            action="test.action", actor_type="user", actor_id=str(i), metadata={"i": i, **extra}
        )
        for i in range(n)
    ]


def _tamper(sql: str, params=()):
    """Bypass the append-only triggers the way a superuser with direct access could."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(sql, params)
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")


@pytest.mark.django_db
class TestRecordAuditEvent:
    def test_chains_each_entry_to_the_previous_one(self):
        first, second = _record(2)
        assert (first.sequence, second.sequence) == (1, 2)
        rows = list(AuditEvent.objects.order_by("sequence"))
        assert rows[0].prev_hash == GENESIS_HASH
        assert rows[1].prev_hash == rows[0].hash == first.hash

    def test_masks_card_numbers_in_metadata(self):
        record_audit_event(
            action="test.pan", actor_type="system", metadata={"note": "card 4111 1111 1111 1111"}
        )
        assert AuditEvent.objects.get(action="test.pan").metadata == {
            "note": "card ************1111"
        }

    def test_refuses_unknown_actor_types(self):
        with pytest.raises(ValueError, match="actor_type"):
            record_audit_event(action="x", actor_type="martian")

    def test_rolls_back_with_the_callers_transaction_without_breaking_the_chain(self):
        _record(1)
        with pytest.raises(RuntimeError), transaction.atomic():
            record_audit_event(action="test.rolled_back", actor_type="system")
            raise RuntimeError
        _record(1)
        assert verify_audit_chain().ok

    def test_a_hash_made_by_postgres_is_the_one_python_verifies_for_any_metadata(self):
        record = record_audit_event(
            action="test.unicode",
            actor_type="admin",
            actor_id="Zoë",
            object_type="payment",
            object_id="pay_123",
            merchant_ref="mch_123",
            ip_address="2001:db8::1",
            metadata={"note": 'naïve café ✓ "quoted" \\ \n', "sequence": 99, "nested": [1, {}]},
        )
        row = AuditEvent.objects.get(action="test.unicode")
        canonical = canonicalize_audit_entry(
            sequence=row.sequence,
            public_id=row.public_id,
            occurred_at=row.occurred_at,
            actor_type=row.actor_type,
            actor_id=row.actor_id,
            action=row.action,
            object_type=row.object_type,
            object_id=row.object_id,
            merchant_ref=row.merchant_ref,
            ip_address=row.ip_address,
            request_id=row.request_id,
            metadata=row.metadata,
        )
        assert row.hash == record.hash
        assert row.hash == compute_audit_hash(prev_hash=row.prev_hash, canonical=canonical)
        assert verify_audit_chain().ok

    def test_an_append_on_its_own_is_one_statement(self):
        _record(1)
        with CaptureQueriesContext(connection) as queries:
            _record(1)
        assert len(queries.captured_queries) == 1

    def test_a_missing_chain_head_is_created_at_the_genesis_hash(self):
        AuditChainHead.objects.all().delete()
        record = record_audit_event(action="test.genesis", actor_type="system")
        assert record.sequence == 1
        assert AuditEvent.objects.get(action="test.genesis").prev_hash == GENESIS_HASH
        assert AuditChainHead.objects.get().last_hash == record.hash
        assert verify_audit_chain().ok


@pytest.mark.django_db
class TestTheDatabaseKeepsTheLogAppendOnly:
    def test_refuses_update(self):
        _record(1)
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("UPDATE common_audit_event SET action = 'forged'")

    def test_refuses_delete(self):
        _record(1)
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("DELETE FROM common_audit_event")

    def test_refuses_truncate(self):
        _record(1)
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("SET LOCAL paymenthub.test_allow_truncate = off")
            cursor.execute("TRUNCATE common_audit_event")


@pytest.mark.django_db
class TestVerifyAuditChain:
    def test_verifies_a_large_log(self):
        _record(1500)
        report = verify_audit_chain(chunk_size=500)
        assert report.ok
        assert report.checked == 1500

    def test_reports_a_changed_byte_at_its_position(self):
        _record(10)
        _tamper("UPDATE common_audit_event SET actor_id = 'x' WHERE sequence = 4")
        report = verify_audit_chain()
        assert (report.ok, report.first_bad_position) == (False, 4)
        assert "modified" in report.problem

    def test_reports_a_changed_metadata_value(self):
        _record(5)
        _tamper("""UPDATE common_audit_event SET metadata = '{"i": 99}' WHERE sequence = 2""")
        assert verify_audit_chain().first_bad_position == 2

    def test_reports_a_deleted_entry(self):
        _record(10)
        _tamper("DELETE FROM common_audit_event WHERE sequence = 6")
        report = verify_audit_chain()
        assert (report.ok, report.first_bad_position) == (False, 6)

    def test_reports_reordered_entries(self):
        _record(10)
        # Swap entries 3 and 7 (three steps: the sequence is unique row by row).
        _tamper("UPDATE common_audit_event SET sequence = 1000003 WHERE sequence = 3")
        _tamper("UPDATE common_audit_event SET sequence = 3 WHERE sequence = 7")
        _tamper("UPDATE common_audit_event SET sequence = 7 WHERE sequence = 1000003")
        report = verify_audit_chain()
        assert (report.ok, report.first_bad_position) == (False, 3)

    def test_reports_a_truncated_tail(self):
        _record(10)
        _tamper("DELETE FROM common_audit_event WHERE sequence > 8")
        report = verify_audit_chain()
        assert (report.ok, report.first_bad_position) == (False, 9)
        assert "truncated" in report.problem

    def test_the_command_exits_non_zero_naming_the_first_bad_position(self):
        _record(5)
        call_command("verify_audit_chain")
        _tamper("UPDATE common_audit_event SET action = 'forged' WHERE sequence = 3")
        with pytest.raises(CommandError, match="BROKEN at position 3"):
            call_command("verify_audit_chain")


@pytest.mark.django_db(transaction=True)
class TestConcurrentAuditWriters:
    def test_still_produce_one_unbroken_chain(self):
        errors: list[BaseException] = []

        def writer(worker: int):
            try:
                for i in range(40):
                    record_audit_event(
                        action="test.concurrent",
                        actor_type="system",
                        metadata={"w": worker, "i": i},
                    )
            except BaseException as exc:
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors
        report = verify_audit_chain()
        assert report.ok
        assert report.checked == 200
        assert sorted(AuditEvent.objects.values_list("sequence", flat=True)) == list(range(1, 201))


@pytest.mark.django_db(transaction=True)
class TestVerifyingWhileWritersAppend:
    def test_never_reports_a_sound_chain_as_broken(self):
        _record(50)
        stop = threading.Event()
        errors: list[BaseException] = []

        def writer():
            try:
                while not stop.is_set():
                    record_audit_event(action="test.during_verify", actor_type="system")
            except BaseException as exc:
                errors.append(exc)
            finally:
                connection.close()

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            reports = [verify_audit_chain(chunk_size=7) for _ in range(15)]
        finally:
            stop.set()
            thread.join(timeout=30)
        assert not errors
        assert all(report.ok for report in reports), [r for r in reports if not r.ok][:1]
