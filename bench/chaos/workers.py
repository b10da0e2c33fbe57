"""Chaos: Celery workers ``kill -9``-ed during settlement and during webhook delivery.

``worker_kill_settlement``
    Captured payments (through the ledger's bulk posting path, like the settlement fault
    tests) are settled by real workers on the ``settlement`` queue: several
    ``ledger.settle_funds`` runs at once (the beat job, a manual run, a retry), in small
    chunks. At seeded points of progress a seeded worker is ``kill -9``-ed and started again.
    Redis hands the killed worker's task to another after the visibility timeout. Checked:
    every payment settled exactly once, batch totals equal the nets, balances moved, the
    ledger verifies.

``worker_kill_webhooks``
    A merchant with a webhook endpoint on a loopback receiver takes card payments through the
    payments service (each one ``payment.created`` and ``payment.succeeded`` events); the
    outbox relay (a worker on ``default``, driven by beat) fans them out and two workers on
    ``webhooks`` deliver them. At seeded points (receipts so far) a seeded delivery worker is
    ``kill -9``-ed and restarted after a seeded pause. The platform recovers by itself: the
    delivery's lease expires, beat's ``retry_due_webhooks`` re-enqueues it. Checked: every
    event delivered and logged as delivered once; an event received twice only where a kill
    cut a delivery off between the POST and its record; nothing pending; the ledger verifies.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, date, datetime
from functools import partial

from bench.chaos import invariants
from bench.chaos.base import ScenarioReport, register_scenario
from bench.chaos.stack import (
    CeleryFleet,
    WebhookReceiver,
    celery_fleet,
    seed_card_merchant,
    serve_webhook_receiver,
    wait_for,
)

AS_OF = date(2026, 3, 4)
CAPTURED_AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
OWNER_PREFIX = "mch_chaos_"


def log(message: str) -> None:
    print(f"  {message}", flush=True)


# --- settlement ------------------------------------------------------------------------------
def seed_captures(*, count: int, merchants: int) -> dict[str, int]:
    """``count`` captured payments due on AS_OF, through the bulk path; the net per merchant."""
    from apps.ledger.bulk import post_entries_in_bulk
    from apps.ledger.testing import build_due_capture_entries

    entries, nets = build_due_capture_entries(
        count=count,
        merchants=merchants,
        owner_prefix=OWNER_PREFIX,
        cause_prefix="pay_chaos_",
        effective_at=CAPTURED_AT,
        available_on=AS_OF,
    )
    post_entries_in_bulk(entries=entries)
    return nets


def count_settled() -> int:
    from apps.ledger.models import SettlementBatchItem

    return SettlementBatchItem.objects.filter(
        posting__account__owner__startswith=OWNER_PREFIX
    ).count()


def reached_settled(point: int) -> bool:
    return count_settled() >= point


def send_settlement(*, chunk_size: int) -> None:
    from paymenthub.celery import app

    app.send_task(
        "ledger.settle_funds",
        kwargs={"as_of": AS_OF.isoformat(), "chunk_size": chunk_size},
        queue="settlement",
    )


@register_scenario(
    name="worker_kill_settlement",
    summary="kill -9 settlement workers at seeded points; every payment settled exactly once",
)
def run_worker_kill_settlement(*, seed: int, short: bool) -> ScenarioReport:
    rng = random.Random(seed)
    report = ScenarioReport(scenario="worker_kill_settlement", seed=seed)
    payments, merchants, kills = (1_500, 20, 3) if short else (5_000, 50, 6)
    names = ["a", "b"] if short else ["a", "b", "c"]
    nets = seed_captures(count=payments, merchants=merchants)
    log(f"seeded {payments} captured payments over {merchants} merchants")
    with celery_fleet() as fleet:
        for name in names:
            fleet.start_worker(name, queues=["settlement"])
        fleet.wait_until_ready(*names)
        chunks = [rng.choice([5, 8, 13]) for _ in range(4)]
        for chunk_size in chunks:  # the beat job, a manual run, a retry...: all at once
            send_settlement(chunk_size=chunk_size)
        started = time.monotonic()
        log(f"4 settle_funds runs sent (chunk sizes {chunks}) to workers {names}")
        points = sorted(rng.sample(range(payments // 20, payments * 3 // 4), kills))
        settled_at_kill = []
        for point in points:
            if not wait_for(partial(reached_settled, point), timeout=120, interval=0.05):
                report.failures.append(f"settlement stalled below {point} payments")
                break
            victim = rng.choice(names)
            pid = fleet.kill(victim)
            settled = count_settled()
            settled_at_kill.append(settled)
            log(f"kill -9 {victim} (pid {pid}) at {settled}/{payments} settled")
            fleet.restart(victim)
        fleet.wait_until_ready(*names)
        if not wait_for(lambda: count_settled() >= payments, timeout=240, interval=0.2):
            report.failures.append(f"only {count_settled()} of {payments} settled within 240 s")
        seconds = time.monotonic() - started
        time.sleep(2)  # a redelivered run that starts now must still settle nothing twice
        fleet.stop_all()
        tracebacks = fleet.count_errors()
    report.failures += invariants.check_settled_exactly_once(owner_prefix=OWNER_PREFIX, nets=nets)
    report.failures += invariants.check_ledger()
    report.figures.update(
        payments=payments,
        workers=len(names),
        kills=len(settled_at_kill),
        kills_mid_run=sum(1 for s in settled_at_kill if 0 < s < payments),
        settled=count_settled(),
        settle_seconds=round(seconds, 1),
        worker_tracebacks=tracebacks,
    )
    log(f"settled at each kill: {settled_at_kill}")
    return report


# --- webhooks --------------------------------------------------------------------------------
def create_payments(*, merchant_id: str, payment_method: str, count: int) -> list[str]:
    """Card payments created and confirmed through the payments service (events in the
    outbox, the relay kicked on commit)."""
    from django.db import connections

    from apps.common.money import Money
    from apps.payments import facade as payments

    created = []
    try:
        for number in range(count):
            payment = payments.create_confirmed_payment(
                merchant_id=merchant_id,
                mode="test",
                amount=Money(amount_minor=1_000 + number, currency="EUR"),
                payment_method=payment_method,
            )
            created.append(payment.id)
    finally:
        connections.close_all()
    return created


def reached_receipts(receiver: WebhookReceiver, point: int) -> bool:
    return len(receiver.receipts) >= point


def count_pending() -> tuple[int, int]:
    from apps.common.models import OutboxEvent
    from apps.payments.models import WebhookDelivery

    return (
        OutboxEvent.objects.filter(status="pending").count(),
        WebhookDelivery.objects.filter(status="pending").count(),
    )


def start_webhook_stack(fleet: CeleryFleet) -> list[str]:
    fleet.start_worker("relay", queues=["default"])
    senders = ["w1", "w2"]
    for name in senders:
        fleet.start_worker(name, queues=["webhooks"])
    fleet.start_beat()
    fleet.wait_until_ready("relay", *senders, "beat")
    return senders


@register_scenario(
    name="worker_kill_webhooks",
    summary="kill -9 webhook delivery workers at seeded points; every event delivered, "
    "duplicates only where a kill cut a send off",
)
def run_worker_kill_webhooks(*, seed: int, short: bool) -> ScenarioReport:
    rng = random.Random(seed)
    report = ScenarioReport(scenario="worker_kill_webhooks", seed=seed)
    payments, kills_wanted = (100, 3) if short else (400, 6)
    kills: list[invariants.Kill] = []
    with serve_webhook_receiver(answer_after_seconds=0.05) as receiver, celery_fleet() as fleet:
        merchant = seed_card_merchant(name="webhooks", webhook_url=receiver.url)
        senders = start_webhook_stack(fleet)
        created: list[str] = []
        creator = threading.Thread(
            target=lambda: created.extend(
                create_payments(
                    merchant_id=merchant.merchant_id,
                    payment_method=merchant.payment_method,
                    count=payments,
                )
            ),
            daemon=True,
        )
        started = time.monotonic()
        creator.start()
        expected = 2 * payments  # payment.created + payment.succeeded (at least)
        points = sorted(rng.sample(range(expected // 10, expected * 3 // 4), kills_wanted))
        log(f"{payments} payments being created; kills at receipts {points}")
        for point in points:
            if not wait_for(partial(reached_receipts, receiver, point), timeout=120):
                report.failures.append(f"deliveries stalled below {point} receipts")
                break
            victim = rng.choice(senders)
            pid = fleet.kill(victim)
            kills.append(invariants.Kill(name=victim, pid=pid, at=time.monotonic()))
            pause = round(rng.uniform(0.0, 2.0), 2)
            log(
                f"kill -9 {victim} (pid {pid}) at {len(receiver.receipts)} receipts, "
                f"t={kills[-1].at - started:.1f}s; restart in {pause} s"
            )
            time.sleep(pause)
            fleet.restart(victim)
        creator.join(timeout=300)
        if creator.is_alive() or len(created) != payments:
            report.failures.append(f"only {len(created)} of {payments} payments were created")

        def drained() -> bool:
            return count_pending() == (0, 0)

        if not wait_for(drained, timeout=150, interval=0.5):
            outbox, deliveries = count_pending()
            report.failures.append(
                f"not drained within 150 s: {outbox} outbox events, {deliveries} deliveries"
            )
        seconds = time.monotonic() - started
        time.sleep(3)  # a redelivered task arriving now must send nothing again
        fleet.stop_all()
        tracebacks = fleet.count_errors()
        receipts = receiver.snapshot()
    figures = invariants.check_webhook_deliveries(
        receipts=receipts, kills=kills, merchant_id=merchant.merchant_id
    )
    charges = invariants.check_processor_charges()
    report.failures += figures.failures
    report.failures += invariants.check_nothing_in_flight()
    report.failures += charges.failures
    report.failures += invariants.check_ledger()
    report.figures.update(
        payments=len(created),
        events=figures.events,
        receipts=figures.receipts,
        duplicates=figures.duplicates,
        duplicates_after_kill=figures.duplicates_explained,
        kills=len(kills),
        drain_seconds=round(seconds, 1),
        charges=charges.authorizations,
        worker_tracebacks=tracebacks,
    )
    return report
