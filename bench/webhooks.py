"""The webhooks benchmark: webhook deliveries per second to a local receiver.

``webhooks`` (deliveries/s)
    A threaded ``http.server`` receiver on 127.0.0.1 (a free port) answers every POST with
    ``200 ok``. One test-mode endpoint of one merchant points at it (created through the
    merchants facade, so its signing secret is stored encrypted as in production), and
    ``DELIVERIES`` pending deliveries for it are bulk-inserted with realistic event bodies
    (a ``payment.succeeded`` event, about 730 bytes each). ``THREADS`` threads then call the real
    ``apps.payments.webhooks.deliver_webhook(delivery_id=...)`` on their share of the ids —
    what the Celery task runs per delivery: lease the row (one UPDATE), load the endpoint's
    signing secrets (decrypted), sign, POST through ``requests`` (no transaction open), then
    record the attempt row and the delivered status (one transaction, row lock). The figure
    is deliveries ÷ wall time; every delivery must end ``delivered`` and reach the receiver.

Baseline: the same number of POSTs of the same bodies, signed the same way
(``build_signature_header`` with a secret of the same shape, the same headers), through
the same HTTP client (``requests.post``, a new connection each, as the product does) to the
same receiver from the same number of threads, with no database at all. The ratio is the
product's deliveries/s ÷ that, so it isolates what the database work (lease, secret lookup,
attempt log, status update) costs per delivery; the network and HTTP client cost is on
both sides.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from django.db import connections

from apps.common.clock import get_now
from apps.common.ids import make_public_id
from apps.merchants.facade import create_webhook_endpoint
from apps.merchants.services import create_merchant
from apps.payments.models import WebhookDelivery, WebhookDeliveryStatus
from apps.payments.webhook_signature import SIGNATURE_HEADER, build_signature_header
from apps.payments.webhooks import deliver_webhook
from bench.harness.figures import Figure

DELIVERIES = 2_000
THREADS = 4
RECEIVER_PATH = "/hooks/paymenthub"


class ReceiverTally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.signed = 0

    def count(self, *, signed: bool) -> None:
        with self.lock:
            self.requests += 1
            self.signed += int(signed)

    def reset(self) -> None:
        with self.lock:
            self.requests = 0
            self.signed = 0


def make_receiver_handler(tally: ReceiverTally) -> type[BaseHTTPRequestHandler]:
    class ReceiverHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            tally.count(signed=bool(self.headers.get(SIGNATURE_HEADER, "").count("v1=")))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            return  # quiet: one line per request would dominate the output

    return ReceiverHandler


@contextmanager
def serve_receiver(*, tally: ReceiverTally) -> Iterator[str]:
    """A threaded loopback receiver on a free port; yields its URL and stops it at the end."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_receiver_handler(tally))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{RECEIVER_PATH}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def build_event_body(*, number: int, merchant_id: str) -> str:
    """A ``payment.succeeded`` event shaped like the ones the outbox fans out (about 730 bytes)."""
    payment_id = f"pay_bench{number:019d}"
    return json.dumps(
        {
            "id": f"evt_bench{number:019d}",
            "object": "event",
            "type": "payment.succeeded",
            "created": 1_790_000_000 + number,
            "livemode": False,
            "data": {
                "object": {
                    "id": payment_id,
                    "object": "payment",
                    "merchant": merchant_id,
                    "amount": 1_000 + number % 90_000,
                    "amount_captured": 1_000 + number % 90_000,
                    "amount_refunded": 0,
                    "currency": "EUR",
                    "status": "succeeded",
                    "capture_method": "automatic",
                    "payment_method": f"pm_bench{number % 5_000:019d}",
                    "card": {"brand": "visa", "last4": f"{number % 10_000:04d}"},
                    "customer": f"cus_bench{number % 2_000:019d}",
                    "customer_email": f"shopper{number % 2_000}@example.com",
                    "description": f"Order #{100_000 + number}",
                    "statement_descriptor": "BENCH SHOP",
                    "metadata": {"order_id": str(100_000 + number), "channel": "web"},
                    "processor_reference": f"sim_{number:020d}",
                    "livemode": False,
                    "created": 1_790_000_000 + number,
                }
            },
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def seed_deliveries(*, url: str) -> tuple[list[str], list[str]]:
    """A merchant, one test endpoint at ``url`` and ``DELIVERIES`` pending deliveries for it."""
    merchant_id = create_merchant(
        legal_name="Bench Webhooks S.r.l.",
        trading_name="Bench Hooks",
        country="IT",
        settlement_currency="EUR",
        support_email="bench@hooks.example",
        status="active",
    ).public_id
    endpoint = create_webhook_endpoint(merchant_id=merchant_id, url=url, mode="test")
    now = get_now() - timedelta(seconds=1)
    bodies = [build_event_body(number=n, merchant_id=merchant_id) for n in range(DELIVERIES)]
    deliveries = [
        WebhookDelivery(
            public_id=make_public_id(prefix="whd"),
            event_id=f"evt_bench{number:019d}",
            event_type="payment.succeeded",
            merchant_ref=merchant_id,
            endpoint_ref=endpoint.summary.endpoint_id,
            url=url,
            body=body,
            next_attempt_at=now,
            created_at=now,
        )
        for number, body in enumerate(bodies)
    ]
    WebhookDelivery.objects.bulk_create(deliveries, batch_size=1_000)
    return [delivery.public_id for delivery in deliveries], bodies


def run_in_threads(*, items: list[str], work: Callable[[str], None], database: bool) -> float:
    """Split ``items`` over ``THREADS`` threads running ``work`` on each; wall seconds."""
    failures: list[BaseException] = []

    def worker(share: list[str]) -> None:
        try:
            for item in share:
                work(item)
        except BaseException as error:  # reported below, after every thread has stopped
            failures.append(error)
        finally:
            if database:
                connections.close_all()

    threads = [
        threading.Thread(target=worker, args=(items[index::THREADS],)) for index in range(THREADS)
    ]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if failures:
        raise RuntimeError(f"{len(failures)} worker(s) failed") from failures[0]
    return elapsed


def deliver_through_product(*, delivery_ids: list[str]) -> float:
    def deliver(delivery_id: str) -> None:
        status = deliver_webhook(delivery_id=delivery_id)
        if status != WebhookDeliveryStatus.DELIVERED:
            raise RuntimeError(f"delivery {delivery_id} ended {status!r}")

    return run_in_threads(items=delivery_ids, work=deliver, database=True)


def post_plain(*, url: str, bodies: list[str]) -> float:
    secret = f"whsec_{secrets.token_urlsafe(32)}"

    def post(body: str) -> None:
        payload = body.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "PaymentHub-Webhooks/1.0",
            SIGNATURE_HEADER: build_signature_header(
                secrets=[secret], timestamp=int(time.time()), payload=payload
            ),
        }
        response = requests.post(url, data=payload, headers=headers, timeout=10)
        response.text  # noqa: B018 - read the body, as the product does for its excerpt
        if response.status_code != 200:
            raise RuntimeError(f"receiver answered {response.status_code}")

    return run_in_threads(items=bodies, work=post, database=False)


def report(*, label: str, count: int, elapsed: float) -> float:
    rate = count / elapsed
    print(f"  {label:<34} {count} in {elapsed:6.2f} s = {rate:8.1f}/s", flush=True)
    return rate


def run() -> list[Figure]:
    print(f"webhooks: {DELIVERIES} deliveries, {THREADS} threads, loopback receiver", flush=True)
    tally = ReceiverTally()
    with serve_receiver(tally=tally) as url:
        delivery_ids, bodies = seed_deliveries(url=url)
        sizes = sorted(len(body) for body in bodies)
        print(f"  seeded; bodies {sizes[0]}-{sizes[-1]} bytes", flush=True)
        # warm both paths (connections, imports) with a few plain posts before measuring
        post_plain(url=url, bodies=bodies[: THREADS * 4])
        tally.reset()
        baseline = report(
            label="baseline: plain signed POSTs",
            count=len(bodies),
            elapsed=post_plain(url=url, bodies=bodies),
        )
        if tally.requests != len(bodies):
            raise RuntimeError(f"receiver saw {tally.requests} of {len(bodies)} baseline POSTs")
        tally.reset()
        product = report(
            label="deliver_webhook per delivery",
            count=len(delivery_ids),
            elapsed=deliver_through_product(delivery_ids=delivery_ids),
        )
        if tally.requests != len(delivery_ids) or tally.signed != len(delivery_ids):
            raise RuntimeError(
                f"receiver saw {tally.requests} ({tally.signed} signed) of {len(delivery_ids)}"
            )
    delivered = WebhookDelivery.objects.filter(status=WebhookDeliveryStatus.DELIVERED).count()
    if delivered != len(delivery_ids):
        raise RuntimeError(f"only {delivered} of {len(delivery_ids)} deliveries delivered")
    print(f"  all {delivered} deliveries delivered, each logged once", flush=True)
    return [Figure("webhooks", product, "deliveries/s", baseline)]
