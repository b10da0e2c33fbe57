"""The merchants' webhook receiver: a threaded HTTP server on 127.0.0.1 that checks signatures.

Each merchant's test endpoint points at ``/hooks/<merchant id>``; every POST is verified
against that endpoint's signing secret (``verify_webhook_signature``, as a merchant would)
and its event id recorded. A bad signature is answered 400 and counted: the delivery is then
retried by the product, and the runner reports it as a broken invariant.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from apps.payments.webhook_signature import (
    SIGNATURE_HEADER,
    InvalidWebhookSignature,
    verify_webhook_signature,
)

HOOKS_PATH = "/hooks/"


class WebhookTally:
    """What the receiver saw; safe to read while deliveries arrive."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.secrets: dict[str, str] = {}  # merchant id -> the endpoint's signing secret
        self.events: Counter[str] = Counter()  # event id -> deliveries received
        self.bad_signatures = 0
        self.first_at: float | None = None
        self.last_at: float | None = None

    def record(self, *, merchant_id: str, payload: bytes, header: str) -> bool:
        secret = self.secrets.get(merchant_id)
        try:
            if secret is None:
                raise InvalidWebhookSignature("no endpoint for this path")
            verify_webhook_signature(payload=payload, header=header, secret=secret)
            event_id = str(json.loads(payload)["id"])
        except (InvalidWebhookSignature, ValueError, KeyError, TypeError):
            with self.lock:
                self.bad_signatures += 1
            return False
        now = time.monotonic()
        with self.lock:
            self.events[event_id] += 1
            self.first_at = self.first_at or now
            self.last_at = now
        return True

    def received_ids(self) -> set[str]:
        with self.lock:
            return set(self.events)

    def deliveries(self) -> int:
        with self.lock:
            return sum(self.events.values())


def make_handler(tally: WebhookTally) -> type[BaseHTTPRequestHandler]:
    class WebhookHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            payload = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            merchant_id = self.path.removeprefix(HOOKS_PATH)
            accepted = self.path.startswith(HOOKS_PATH) and tally.record(
                merchant_id=merchant_id,
                payload=payload,
                header=self.headers.get(SIGNATURE_HEADER, ""),
            )
            answer = b"ok" if accepted else b"bad signature"
            self.send_response(200 if accepted else 400)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            return  # one line per delivery would drown the report

    return WebhookHandler


@contextmanager
def serve_webhook_receiver(*, tally: WebhookTally) -> Iterator[str]:
    """Serve on a free loopback port until the block exits; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(tally))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{HOOKS_PATH}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
