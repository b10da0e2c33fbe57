"""Rate limits for the ``/v1/`` API: a budget per API key, in Redis, shared by every worker.

Each key has four budgets, chosen by the key's mode (``sk_live_``/``pk_live_`` vs
``sk_test_``/``pk_test_``) and the request's method (GET/HEAD read, anything else writes):
``settings.API_RATE_LIMITS["live_read"]`` requests per ``API_RATE_LIMIT_PERIOD_SECONDS`` and
so on. Requests that present no valid key are limited per client IP (``unauthenticated``), so
guessing keys is bounded. Over budget: 429 ``rate_limit_error``/``rate_limited`` with
``Retry-After`` (whole seconds, at least 1). Every response says ``X-RateLimit-Limit`` and
``X-RateLimit-Remaining`` of the budget it was counted against.

The algorithm is GCRA (a token bucket kept as one "theoretical arrival time" per bucket) in a
Lua script, so the check-and-charge is atomic across processes and costs one Redis round trip
per request (EVALSHA). Redis's own clock is used, so workers' clocks never disagree. A request
is counted before authentication, by a digest of the key it presents: a request over budget
never reaches the database. A request whose key then turns out to be invalid (401) is charged
to its IP's ``unauthenticated`` budget afterwards, and a key-bearing request from an IP that
has spent that budget is refused before its key is looked up.

Redis unreachable: the request goes through (fail open), a warning is logged at most once per
back-off period, ``paymenthub_api_rate_limit_fail_open_total`` counts it in /metrics, and the
process does not try Redis again for ``API_RATE_LIMIT_REDIS_RETRY_SECONDS`` (so an outage
costs no timeouts on the hot path). See docs/api/rate-limits.md and the ADR.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import Counter

from apps.common.api.exceptions import build_error_body

logger = logging.getLogger("paymenthub.api.rate_limits")

API_PATH_PREFIX = "/v1/"
LIMIT_HEADER = "X-RateLimit-Limit"
REMAINING_HEADER = "X-RateLimit-Remaining"
RETRY_AFTER_HEADER = "Retry-After"
READ_METHODS = frozenset({"GET", "HEAD"})
# Keys look like sk_test_<32 base62>; anything else is certainly not a key.
_KEY_MODES = {"sk_test_": "test", "pk_test_": "test", "sk_live_": "live", "pk_live_": "live"}
_MAX_KEY_LENGTH = 128
# A Redis outage is logged at most this often per process.
WARNING_INTERVAL_SECONDS = 60.0

FAIL_OPEN_COUNTER = Counter(
    "paymenthub_api_rate_limit_fail_open",
    "API requests let through without a rate-limit check because Redis was unreachable.",
)
LIMITED_COUNTER = Counter(
    "paymenthub_api_rate_limited",
    "API requests refused with 429 by the rate limiter, by budget.",
    ["budget"],
)

# GCRA, one bucket charged and optionally one only checked, in one atomic call.
# KEYS[1]: the bucket to charge; KEYS[2] (optional): a bucket that must not be exhausted.
# ARGV[1]: KEYS[1]'s limit; ARGV[2]: the period in microseconds; ARGV[3]: KEYS[2]'s limit.
# Returns {allowed (1/0), remaining, retry_after_microseconds, refused_by (1 or 2, 0 if allowed)}.
_GCRA_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local period = tonumber(ARGV[2])

local function arrival(key, limit)
  local interval = period / limit
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  return tat + interval
end

if KEYS[2] then
  local checked = arrival(KEYS[2], tonumber(ARGV[3]))
  if checked - period > now then
    return {0, 0, math.ceil(checked - period - now), 2}
  end
end

local limit = tonumber(ARGV[1])
local new_tat = arrival(KEYS[1], limit)
if new_tat - period > now then
  return {0, 0, math.ceil(new_tat - period - now), 1}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX',
  math.ceil((new_tat - now) / 1000) + 1)
local remaining = math.floor((period - (new_tat - now)) / (period / limit))
return {1, remaining, 0, 0}
"""


@dataclass(frozen=True, slots=True)
class RateLimitDecision:
    allowed: bool
    budget: str
    limit: int
    remaining: int
    retry_after_seconds: int = 0


@dataclass(frozen=True, slots=True)
class Bucket:
    """A budget and the Redis key counting it."""

    budget: str
    key: str
    limit: int


class RateLimiter:
    """GCRA buckets in one Redis; fails open (``None``) when Redis cannot answer."""

    def __init__(self, *, redis_url: str, timeout_seconds: float, retry_seconds: float) -> None:
        self.redis_url = redis_url
        self.retry_seconds = retry_seconds
        self._client = redis.Redis.from_url(
            redis_url,
            socket_connect_timeout=timeout_seconds,
            socket_timeout=timeout_seconds,
            retry_on_timeout=False,
        )
        self._script = self._client.register_script(_GCRA_SCRIPT)
        self._lock = threading.Lock()
        self._skip_until = 0.0
        self._failing = False
        self._warned_at = -WARNING_INTERVAL_SECONDS

    def hit(
        self, *, bucket: Bucket, period_seconds: int, guard: Bucket | None = None
    ) -> RateLimitDecision | None:
        """Charge ``bucket`` one request unless it (or ``guard``, which is only checked) is
        spent. ``None`` when Redis is unreachable: the caller lets the request through."""
        if time.monotonic() < self._skip_until:
            FAIL_OPEN_COUNTER.inc()
            return None
        keys = [bucket.key] if guard is None else [bucket.key, guard.key]
        args = [bucket.limit, period_seconds * 1_000_000, guard.limit if guard else 0]
        try:
            allowed, remaining, retry_us, refused_by = self._script(keys=keys, args=args)
        except redis.RedisError as exc:
            self._fail_open(exc)
            return None
        if self._failing:
            self._failing = False
            logger.info("rate limiter: Redis reachable again; API requests are counted again")
        if allowed:
            return RateLimitDecision(
                allowed=True, budget=bucket.budget, limit=bucket.limit, remaining=int(remaining)
            )
        refusing = guard if refused_by == 2 and guard is not None else bucket
        return RateLimitDecision(
            allowed=False,
            budget=refusing.budget,
            limit=refusing.limit,
            remaining=0,
            retry_after_seconds=max(1, math.ceil(int(retry_us) / 1_000_000)),
        )

    def close(self) -> None:
        self._client.close()

    def _fail_open(self, exc: Exception) -> None:
        FAIL_OPEN_COUNTER.inc()
        now = time.monotonic()
        with self._lock:
            self._skip_until = now + self.retry_seconds
            self._failing = True
            warn = now - self._warned_at >= WARNING_INTERVAL_SECONDS
            if warn:
                self._warned_at = now
        if warn:
            logger.warning(
                "rate limiter: Redis unreachable (%s: %s); API requests go through unchecked, "
                "retrying Redis every %ss",
                type(exc).__name__,
                exc,
                self.retry_seconds,
            )


_limiters: dict[tuple[str, float, float], RateLimiter] = {}
_limiters_lock = threading.Lock()


def get_rate_limiter() -> RateLimiter:
    """The process's limiter for the configured Redis (one connection pool per URL)."""
    config = (
        str(settings.API_RATE_LIMIT_REDIS_URL),
        settings.API_RATE_LIMIT_REDIS_TIMEOUT_MS / 1000,
        float(settings.API_RATE_LIMIT_REDIS_RETRY_SECONDS),
    )
    limiter = _limiters.get(config)
    if limiter is None:
        with _limiters_lock:
            limiter = _limiters.get(config)
            if limiter is None:
                limiter = RateLimiter(
                    redis_url=config[0], timeout_seconds=config[1], retry_seconds=config[2]
                )
                _limiters[config] = limiter
    return limiter


def reset_rate_limiters() -> None:
    """Forget the process's limiters (their connection pools and Redis back-off state)."""
    with _limiters_lock:
        limiters = list(_limiters.values())
        _limiters.clear()
    for limiter in limiters:
        limiter.close()


def _presented_key(request: HttpRequest) -> str | None:
    """The bearer token of a request, if any (valid or not)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def _key_bucket_mode(token: str) -> str | None:
    """``live``/``test`` for a token shaped like an API key, else ``None``."""
    if len(token) > _MAX_KEY_LENGTH or not token.isascii():
        return None
    return _KEY_MODES.get(token[:8])


def _client_ip(request: HttpRequest) -> str:
    # REMOTE_ADDR is the client's own: a trusted proxy in front rewrites it (as for identity).
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def _ip_bucket(request: HttpRequest) -> Bucket:
    return Bucket(
        budget="unauthenticated",
        key=f"{settings.API_RATE_LIMIT_KEY_PREFIX}:ip:{_client_ip(request)}",
        limit=int(settings.API_RATE_LIMITS["unauthenticated"]),
    )


def _key_bucket(*, token: str, mode: str, method: str) -> Bucket:
    kind = "read" if method in READ_METHODS else "write"
    budget = f"{mode}_{kind}"
    # A digest of its own (not the stored key hash): the bucket names nothing the key table has.
    digest = hashlib.blake2b(token.encode(), digest_size=16, person=b"ph-ratelimit").hexdigest()
    return Bucket(
        budget=budget,
        key=f"{settings.API_RATE_LIMIT_KEY_PREFIX}:key:{digest}:{kind}",
        limit=int(settings.API_RATE_LIMITS[budget]),
    )


_BUDGET_LABELS = {
    "live_read": "live-mode reads",
    "live_write": "live-mode writes",
    "test_read": "test-mode reads",
    "test_write": "test-mode writes",
}


def _refusal_message(decision: RateLimitDecision, period_seconds: int) -> str:
    per = "second" if period_seconds == 1 else f"{period_seconds} seconds"
    wait = f"{decision.retry_after_seconds} second" + (
        "" if decision.retry_after_seconds == 1 else "s"
    )
    if decision.budget == "unauthenticated":
        return (
            f"Too many requests without a valid API key from this IP address (the limit is "
            f"{decision.limit} per {per}). Retry after {wait}."
        )
    label = _BUDGET_LABELS.get(decision.budget, decision.budget)
    return (
        f"Too many requests with this API key: the limit for {label} is {decision.limit} per "
        f"{per}. Retry after {wait}, and spread your requests out."
    )


def build_rate_limited_response(
    *, decision: RateLimitDecision, period_seconds: int
) -> JsonResponse:
    response = JsonResponse(
        build_error_body(
            error_type="rate_limit_error",
            code="rate_limited",
            message=_refusal_message(decision, period_seconds),
        ),
        status=429,
    )
    response[RETRY_AFTER_HEADER] = str(decision.retry_after_seconds)
    return response


def _add_headers(response: HttpResponse, decision: RateLimitDecision | None) -> None:
    if decision is None:
        return  # not counted (Redis unreachable): no figures to report
    response[LIMIT_HEADER] = str(decision.limit)
    response[REMAINING_HEADER] = str(decision.remaining)


class ApiRateLimitMiddleware:
    """Applies the budgets to every ``/v1/`` request (CORS preflights excepted: they carry
    no key and do no work). Paths outside ``/v1/`` (probes, metrics, portal) are untouched."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            not request.path.startswith(API_PATH_PREFIX)
            or request.method == "OPTIONS"
            or not settings.API_RATE_LIMIT_ENABLED
        ):
            return self.get_response(request)
        period = int(settings.API_RATE_LIMIT_PERIOD_SECONDS)
        limiter = get_rate_limiter()
        token = _presented_key(request)
        mode = _key_bucket_mode(token) if token else None
        ip_bucket = _ip_bucket(request)
        if token is not None and mode is not None:
            key_bucket = _key_bucket(token=token, mode=mode, method=request.method or "GET")
            decision = limiter.hit(bucket=key_bucket, period_seconds=period, guard=ip_bucket)
            charged_ip = False
        else:
            decision = limiter.hit(bucket=ip_bucket, period_seconds=period)
            charged_ip = True
        if decision is not None and not decision.allowed:
            return self._refuse(decision, period)

        response = self.get_response(request)

        if response.status_code == 401 and not charged_ip:
            # The key was not a valid one: the attempt counts against the IP's budget.
            failed = limiter.hit(bucket=ip_bucket, period_seconds=period)
            if failed is not None and not failed.allowed:
                return self._refuse(failed, period)
            decision = failed if failed is not None else decision
        _add_headers(response, decision)
        return response

    @staticmethod
    def _refuse(decision: RateLimitDecision, period: int) -> HttpResponse:
        LIMITED_COUNTER.labels(budget=decision.budget).inc()
        refused = build_rate_limited_response(decision=decision, period_seconds=period)
        _add_headers(refused, decision)
        return refused
