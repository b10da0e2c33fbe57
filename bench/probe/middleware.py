"""Names the web worker that answered a benchmark request, so the load driver can spread its
keep-alive connections evenly over the server's workers (bench settings only)."""

from __future__ import annotations

import os
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from bench.harness.http_load import WORKER_HEADER


class WorkerHeaderMiddleware:
    """Adds ``X-Bench-Worker: <pid of the process that answered>`` to every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response[WORKER_HEADER] = str(os.getpid())
        return response
