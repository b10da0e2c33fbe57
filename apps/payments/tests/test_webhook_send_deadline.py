"""One webhook send is bounded as a whole, not per socket read: an endpoint that answers and
then trickles its body (or never finishes its headers) cannot keep a send open past the
delivery's lease, after which another worker may send the same delivery again."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apps.payments.webhooks import _post

LEASE_SECONDS = 2 * 1 + 5  # webhooks._claim_delivery's lease at WEBHOOK_TIMEOUT_SECONDS=1


class _TricklingEndpoint:
    """On loopback: answers its status line (or not) and then one byte every 0.5 s."""

    def __init__(self, *, seconds: float, headers_first: bool) -> None:
        chunks = int(seconds / 0.5)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                if headers_first:
                    self.send_response(200)
                    self.send_header("Content-Length", str(chunks))
                    self.end_headers()
                    for _ in range(chunks):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(0.5)
                else:  # the status line itself, a byte at a time
                    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * chunks:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(0.5)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("headers_first", [True, False], ids=["trickled-body", "trickled-head"])
def test_a_send_ends_within_the_delivery_lease_however_slowly_the_endpoint_answers(
    settings, headers_first
):
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    endpoint = _TricklingEndpoint(seconds=12, headers_first=headers_first)
    try:
        started = time.monotonic()
        status, excerpt, error, _ = _post(url=endpoint.url, body="{}", headers={})
        elapsed = time.monotonic() - started
    finally:
        endpoint.stop()
    assert elapsed < LEASE_SECONDS, f"one send took {elapsed:.1f}s, the lease is {LEASE_SECONDS}s"
    if headers_first:  # the endpoint answered 200: delivered, with what came of the body
        assert (status, error) == (200, "")
        assert set(excerpt) <= {"x"}
    else:
        assert (status, error) == (None, "Timeout")
