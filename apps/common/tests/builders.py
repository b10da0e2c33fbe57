"""Unsaved kernel rows for tests that need a second model to write beside another."""

from __future__ import annotations

from apps.common.clock import get_now
from apps.common.models import ApiRequestLogEntry


def build_request_log(*, request_id: str = "req_rows") -> ApiRequestLogEntry:
    """An unsaved request-log line (any kernel model with no foreign keys would do)."""
    return ApiRequestLogEntry(
        merchant_ref="mch_rows",
        mode="test",
        method="POST",
        path="/v1/payments",
        status_code=200,
        latency_ms=12,
        request_id=request_id,
        created_at=get_now(),
    )
