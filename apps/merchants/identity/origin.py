"""Where a request came from (IP address and user agent), as the audit log records it."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from django.http import HttpRequest

USER_AGENT_MAX_LENGTH = 300


@dataclass(frozen=True)
class RequestOrigin:
    ip_address: str | None
    user_agent: str


def get_request_origin(request: HttpRequest) -> RequestOrigin:
    """REMOTE_ADDR (already the client's when a trusted proxy rewrites it) and the user agent."""
    raw_ip = request.META.get("REMOTE_ADDR", "")
    try:
        ip_address: str | None = ipaddress.ip_address(raw_ip).compressed
    except ValueError:
        ip_address = None
    user_agent = str(request.META.get("HTTP_USER_AGENT", ""))[:USER_AGENT_MAX_LENGTH]
    return RequestOrigin(ip_address=ip_address, user_agent=user_agent)
