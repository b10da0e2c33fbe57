"""A loopback proxy in front of localstripe that loses or replaces Stripe's answers: what the
network and Stripe do to the platform in production, played on demand by a test.

``proxy.fail(method, path_suffix, ...)`` arms a fault for the next matching requests:

* ``forward=True, answer=None``: Stripe does the work, its answer never comes back (the
  client times out);
* ``forward=False, answer=None``: the request is lost on the way (Stripe never sees it);
* ``answer=(status, body)``: that answer instead of Stripe's, after forwarding the request
  (``forward=True``: Stripe did the work, e.g. a 500 after the charge) or without it.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

SILENCE_SECONDS = 2.0  # longer than the connector's timeout in these tests


@dataclass
class Fault:
    method: str
    path_suffix: str
    forward: bool
    answer: tuple[int, dict[str, Any]] | None

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and path.split("?")[0].rstrip("/").endswith(self.path_suffix)


class StripeFaultProxy:
    def __init__(self, *, upstream: str) -> None:
        self.upstream = upstream
        self.faults: list[Fault] = []
        self.seen: list[tuple[str, str]] = []  # (method, path) of every request received
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                proxy.seen.append((self.command, self.path))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                fault = proxy._fault_for(self.command, self.path)
                upstream = None
                if fault is None or fault.forward:
                    headers = {
                        k: v
                        for k, v in self.headers.items()
                        if k.lower() not in {"host", "content-length"}
                    }
                    upstream = requests.request(
                        self.command,
                        proxy.upstream + self.path,
                        data=body,
                        headers=headers,
                        timeout=10,
                    )
                if fault is not None and fault.answer is None:
                    time.sleep(SILENCE_SECONDS)  # never answer: the client gives up first
                    return
                if fault is not None and fault.answer is not None:
                    status, content = fault.answer[0], json.dumps(fault.answer[1]).encode()
                else:
                    assert upstream is not None
                    status, content = upstream.status_code, upstream.content
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> StripeFaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail(
        self,
        method: str,
        path_suffix: str,
        *,
        forward: bool,
        answer: tuple[int, dict[str, Any]] | None = None,
    ) -> None:
        self.faults.append(
            Fault(method=method, path_suffix=path_suffix, forward=forward, answer=answer)
        )

    def heal(self) -> None:
        self.faults.clear()

    def _fault_for(self, method: str, path: str) -> Fault | None:
        return next((f for f in self.faults if f.matches(method, path)), None)


def stripe_error(kind: str, message: str = "simulated by the test proxy") -> dict[str, Any]:
    return {"error": {"type": kind, "message": message}}
