import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from apps.common.clock import get_now
from apps.common.models import ApiRequestLogEntry, OutboxEvent, OutboxStatus
from apps.common.outbox import (
    compute_retry_delay,
    enqueue_event,
    make_event_id,
    register_outbox_handler,
    relay_outbox_batch,
    relay_outbox_until_empty,
    requeue_failed_event,
    unregister_outbox_handler,
)
from apps.common.tests.builders import build_request_log

EVENT_TYPE = "test.outbox_probe"


@pytest.fixture
def handled():
    """Subscribe a recording handler for EVENT_TYPE for the duration of one test."""
    calls: list[str] = []
    lock = threading.Lock()

    def handler(event):
        with lock:
            calls.append(event.event_id)

    register_outbox_handler(event_type=EVENT_TYPE, handler=handler)
    yield calls
    unregister_outbox_handler(event_type=EVENT_TYPE, handler=handler)


@pytest.mark.django_db
class TestEnqueueEvent:
    def test_writes_the_event_in_the_callers_transaction(self):
        with transaction.atomic():
            event_id = enqueue_event(
                event_type=EVENT_TYPE,
                payload={"amount": 1050},
                aggregate_type="payment",
                aggregate_id="pay_x",
            )
        event = OutboxEvent.objects.get(public_id=event_id)
        assert event.status == OutboxStatus.PENDING
        assert event.payload == {"amount": 1050}
        assert event_id.startswith("evt_")

    def test_an_event_named_up_front_is_written_with_the_callers_rows_in_one_statement(self):
        event_id = make_event_id()
        request_line = build_request_log(request_id=event_id)  # the row names its event

        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            written = enqueue_event(
                event_type=EVENT_TYPE,
                payload={"amount": 1050},
                event_id=event_id,
                together_with=[request_line],
            )

        assert written == event_id
        assert len(queries.captured_queries) == 1
        assert OutboxEvent.objects.get(public_id=event_id).payload == {"amount": 1050}
        assert ApiRequestLogEntry.objects.get(pk=request_line.pk).request_id == event_id

    def test_a_rolled_back_transaction_leaves_no_event(self):
        with pytest.raises(RuntimeError), transaction.atomic():
            enqueue_event(event_type=EVENT_TYPE, payload={})
            raise RuntimeError("the business change failed")
        assert not OutboxEvent.objects.filter(event_type=EVENT_TYPE).exists()


@pytest.mark.django_db
class TestRelayOutboxBatch:
    def test_dispatches_each_due_event_to_its_handlers_and_marks_it_done(self, handled):
        ids = [enqueue_event(event_type=EVENT_TYPE, payload={"n": n}) for n in range(3)]
        result = relay_outbox_batch()
        assert result.dispatched == 3
        assert handled == ids
        assert set(
            OutboxEvent.objects.filter(public_id__in=ids).values_list("status", flat=True)
        ) == {"dispatched"}

    def test_does_not_dispatch_an_event_twice(self, handled):
        enqueue_event(event_type=EVENT_TYPE, payload={})
        relay_outbox_batch()
        second = relay_outbox_batch()
        assert second.claimed == 0
        assert len(handled) == 1

    def test_a_failing_handler_schedules_a_retry_with_backoff(self):
        def failing(event):
            raise ConnectionError("downstream is down")

        register_outbox_handler(event_type=EVENT_TYPE, handler=failing)
        try:
            event_id = enqueue_event(event_type=EVENT_TYPE, payload={})
            now = get_now()
            result = relay_outbox_batch(now=now)
        finally:
            unregister_outbox_handler(event_type=EVENT_TYPE, handler=failing)
        event = OutboxEvent.objects.get(public_id=event_id)
        assert result.retried == 1
        assert event.status == OutboxStatus.PENDING
        assert event.attempts == 1
        assert event.available_at > now
        assert "downstream is down" in event.last_error
        # Not due yet: an immediate relay leaves it alone.
        assert relay_outbox_batch(now=now).claimed == 0

    def test_a_failing_handler_rolls_back_its_own_database_effects(self):
        from apps.common.audit import record_audit_event
        from apps.common.models import AuditEvent

        def writes_then_fails(event):
            record_audit_event(action="test.half_done", actor_type="system")
            raise ValueError("boom")

        register_outbox_handler(event_type=EVENT_TYPE, handler=writes_then_fails)
        try:
            enqueue_event(event_type=EVENT_TYPE, payload={})
            relay_outbox_batch()
        finally:
            unregister_outbox_handler(event_type=EVENT_TYPE, handler=writes_then_fails)
        assert not AuditEvent.objects.filter(action="test.half_done").exists()

    def test_one_failing_event_does_not_block_the_others(self, handled):
        def fails_for_odd(event):
            if event.payload["n"] % 2:
                raise ValueError("odd")

        register_outbox_handler(event_type=EVENT_TYPE, handler=fails_for_odd)
        try:
            for n in range(4):
                enqueue_event(event_type=EVENT_TYPE, payload={"n": n})
            result = relay_outbox_batch()
        finally:
            unregister_outbox_handler(event_type=EVENT_TYPE, handler=fails_for_odd)
        assert (result.dispatched, result.retried) == (2, 2)

    def test_a_failure_in_a_batch_leaves_the_other_events_effects_committed_exactly_once(self):
        from apps.common.audit import record_audit_event
        from apps.common.models import AuditEvent

        def audits_unless_poisoned(event):
            record_audit_event(action="test.handled", actor_type="system", object_id=event.event_id)
            if event.payload.get("poison"):
                raise ValueError("poisoned")

        register_outbox_handler(event_type=EVENT_TYPE, handler=audits_unless_poisoned)
        try:
            good = [enqueue_event(event_type=EVENT_TYPE, payload={"n": n}) for n in range(3)]
            enqueue_event(event_type=EVENT_TYPE, payload={"poison": True})
            result = relay_outbox_batch()
        finally:
            unregister_outbox_handler(event_type=EVENT_TYPE, handler=audits_unless_poisoned)
        assert (result.dispatched, result.retried) == (3, 1)
        handled = list(
            AuditEvent.objects.filter(action="test.handled").values_list("object_id", flat=True)
        )
        assert sorted(handled) == sorted(good)

    @override_settings(OUTBOX_MAX_ATTEMPTS=2)
    def test_parks_an_event_as_failed_after_the_last_attempt_and_can_requeue_it(self):
        def failing(event):
            raise ValueError("always")

        register_outbox_handler(event_type=EVENT_TYPE, handler=failing)
        try:
            event_id = enqueue_event(event_type=EVENT_TYPE, payload={})
            relay_outbox_batch()
            relay_outbox_batch(now=get_now() + timedelta(hours=2))
        finally:
            unregister_outbox_handler(event_type=EVENT_TYPE, handler=failing)
        event = OutboxEvent.objects.get(public_id=event_id)
        assert (event.status, event.attempts) == (OutboxStatus.FAILED, 2)
        assert relay_outbox_batch(now=get_now() + timedelta(days=1)).claimed == 0

        assert requeue_failed_event(event_id=event_id)
        relay_outbox_batch()
        requeued = OutboxEvent.objects.get(public_id=event_id)
        assert (requeued.status, requeued.attempts) == (OutboxStatus.DISPATCHED, 1)

    def test_events_without_handlers_are_marked_dispatched(self):
        event_id = enqueue_event(event_type="test.nobody_listens", payload={})
        relay_outbox_batch()
        assert OutboxEvent.objects.get(public_id=event_id).status == OutboxStatus.DISPATCHED


class TestRetryDelay:
    def test_grows_exponentially_with_jitter_and_is_capped(self):
        import random

        rng = random.Random(7)
        delays = [compute_retry_delay(attempts=n, rng=rng).total_seconds() for n in range(1, 20)]
        assert delays[0] <= 2
        assert delays[5] >= 32  # 2 * 2**5 / 2
        assert max(delays) <= 3600


@pytest.mark.django_db(transaction=True)
class TestConcurrentRelays:
    def test_never_claim_the_same_event_twice(self, handled):
        OutboxEvent.objects.bulk_create(
            [
                OutboxEvent(
                    public_id=f"evt_concurrent{n:012d}",
                    event_type=EVENT_TYPE,
                    payload={"n": n},
                    available_at=get_now(),
                    created_at=get_now(),
                )
                for n in range(600)
            ]
        )
        errors: list[BaseException] = []

        def relay():
            try:
                relay_outbox_until_empty(batch_size=25)
            except BaseException as exc:  # surfaced below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=relay) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors
        counts = Counter(handled)
        assert len(counts) == 600
        assert set(counts.values()) == {1}
        assert OutboxEvent.objects.filter(status=OutboxStatus.DISPATCHED).count() == 600


@pytest.mark.django_db(transaction=True)
class TestKickingTheRelay:
    @pytest.fixture
    def sent(self, monkeypatch):
        """Count the relay tasks sent to the broker (the worker side is tested for real in
        test_outbox_with_a_real_worker.py)."""
        from apps.common import tasks
        from apps.common.outbox import release_outbox_kick

        release_outbox_kick()
        sends: list[dict] = []
        monkeypatch.setattr(tasks.relay_outbox, "apply_async", lambda **kw: sends.append(kw))
        yield sends
        release_outbox_kick()

    def test_a_transaction_with_many_events_kicks_the_relay_once(self, sent):
        with transaction.atomic():
            for _ in range(3):
                enqueue_event(event_type=EVENT_TYPE, payload={})
        assert len(sent) == 1

    def test_commits_while_a_relay_is_on_its_way_send_no_more_tasks(self, sent):
        for _ in range(5):
            with transaction.atomic():
                enqueue_event(event_type=EVENT_TYPE, payload={})
        assert len(sent) == 1

    def test_the_kicked_relay_releases_the_kick_and_finds_events_committed_meanwhile(
        self, sent, handled
    ):
        from apps.common.outbox import relay_outbox_after_kick

        with transaction.atomic():
            enqueue_event(event_type=EVENT_TYPE, payload={})
        with transaction.atomic():  # its kick is suppressed: the first one is on its way
            enqueue_event(event_type=EVENT_TYPE, payload={})
        assert len(sent) == 1
        assert relay_outbox_after_kick().dispatched == 2
        assert len(handled) == 2
        with transaction.atomic():  # released: the next commit kicks again
            enqueue_event(event_type=EVENT_TYPE, payload={})
        assert len(sent) == 2


class _KickCountingCache:
    """The cache, counting the kicks that reach Redis (the ``add`` of the kick key)."""

    def __init__(self, cache):
        self._cache = cache
        self.kicks_tried = 0

    def add(self, key, *args, **kwargs):
        from apps.common.outbox import KICK_KEY

        if key == KICK_KEY:
            self.kicks_tried += 1
        return self._cache.add(key, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._cache, name)


@pytest.mark.django_db(transaction=True)
class TestCoalescingKicks:
    @pytest.fixture
    def redis_kicks(self, monkeypatch):
        """The kicks that reached Redis, and the relay tasks sent (the broker publish faked)."""
        from django.core.cache import cache

        from apps.common import outbox, tasks

        outbox.release_outbox_kick()
        counting = _KickCountingCache(cache)
        sends: list[dict] = []
        monkeypatch.setattr(outbox, "cache", counting)
        monkeypatch.setattr(tasks.relay_outbox, "apply_async", lambda **kw: sends.append(kw))
        yield counting, sends
        outbox.release_outbox_kick()

    def test_commits_inside_a_block_kick_the_relay_once_as_it_ends(self, redis_kicks):
        from django.core.cache import cache

        from apps.common.outbox import KICK_KEY, coalesce_outbox_kicks

        counting, sent = redis_kicks
        with coalesce_outbox_kicks():
            for _ in range(3):
                with transaction.atomic():
                    enqueue_event(event_type=EVENT_TYPE, payload={})
            assert counting.kicks_tried == 0
            assert cache.get(KICK_KEY) is None
        assert counting.kicks_tried == 1
        assert len(sent) == 1
        assert cache.get(KICK_KEY) is not None

    def test_without_a_block_every_commit_tries_its_kick(self, redis_kicks):
        counting, sent = redis_kicks
        for _ in range(3):
            enqueue_event(event_type=EVENT_TYPE, payload={})  # autocommit: a commit each
        assert counting.kicks_tried == 3
        assert len(sent) == 1  # the key held by the first suppresses the others

    def test_a_block_in_which_nothing_committed_kicks_nothing(self, redis_kicks):
        from apps.common.outbox import coalesce_outbox_kicks

        counting, sent = redis_kicks
        with coalesce_outbox_kicks(), transaction.atomic():
            enqueue_event(event_type=EVENT_TYPE, payload={})
            transaction.set_rollback(True)
        assert counting.kicks_tried == 0
        assert sent == []

    def test_an_event_still_uncommitted_when_the_block_ends_kicks_at_its_commit(self, redis_kicks):
        from apps.common.outbox import coalesce_outbox_kicks

        counting, sent = redis_kicks
        with transaction.atomic():
            with coalesce_outbox_kicks():
                enqueue_event(event_type=EVENT_TYPE, payload={})
            assert counting.kicks_tried == 0
        assert counting.kicks_tried == 1
        assert len(sent) == 1

    def test_a_block_that_raises_still_kicks_for_what_committed(self, redis_kicks):
        from apps.common.outbox import coalesce_outbox_kicks

        counting, sent = redis_kicks
        with pytest.raises(RuntimeError), coalesce_outbox_kicks():
            enqueue_event(event_type=EVENT_TYPE, payload={})
            raise RuntimeError("the processor call failed")
        assert counting.kicks_tried == 1
        assert len(sent) == 1

    def test_a_block_inside_another_leaves_the_kick_to_the_outer_one(self, redis_kicks):
        from apps.common.outbox import coalesce_outbox_kicks

        counting, _ = redis_kicks
        with coalesce_outbox_kicks():
            with coalesce_outbox_kicks():
                enqueue_event(event_type=EVENT_TYPE, payload={})
            assert counting.kicks_tried == 0
            enqueue_event(event_type=EVENT_TYPE, payload={})
        assert counting.kicks_tried == 1

    def test_blocks_in_two_threads_do_not_share_their_kick(self, redis_kicks):
        from apps.common.outbox import coalesce_outbox_kicks

        counting, _ = redis_kicks
        inside = threading.Event()
        done = threading.Event()

        def hold_a_block_open():
            with coalesce_outbox_kicks():
                inside.set()
                done.wait(timeout=10)

        thread = threading.Thread(target=hold_a_block_open)
        thread.start()
        try:
            assert inside.wait(timeout=10)
            enqueue_event(event_type=EVENT_TYPE, payload={})  # this thread has no block open
            assert counting.kicks_tried == 1
        finally:
            done.set()
            thread.join(timeout=10)
