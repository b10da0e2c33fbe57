"""Run a ``socketserver`` server (an ``http.server`` stand-in for something outside the
platform) on a background thread for the length of a ``with`` block."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

ServerT = TypeVar("ServerT", bound=socketserver.BaseServer)
STOP_TIMEOUT_SECONDS = 5.0


@contextmanager
def serve_in_background(server: ServerT) -> Iterator[ServerT]:
    """Serve ``server`` on a daemon thread; on leaving, stop it, close its socket and wait
    (bounded) for the thread."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=STOP_TIMEOUT_SECONDS)
