"""Velocity and history signals in Redis, read and updated in ONE round trip.

One Lua script call (``EVALSHA``) per assessment:

* sliding windows per card fingerprint, e-mail and IP, over the last hour and the last 24
  hours, this attempt included: per window a sorted set of the attempts inside it (score =
  time in ms, member = ``<nonce>:<amount>``) and the running sum of their amounts, trimmed as
  attempts leave it, so the count is ``ZCARD`` and the amount is kept, not summed: the cost
  of a call does not grow with the number of attempts in the window;
* per merchant: one hash per minute (count, amount), the last 60 summed: a sliding hour at
  minute resolution whose cost does not grow with the merchant's volume;
* history: the card's first-seen time (``SET NX``), the e-mail's and the merchant's running
  count and amount before this attempt (for "amount vs usual" features);
* the risk configuration token (rules, lists, model), so a process knows in the same round
  trip whether its in-memory copy of the configuration is stale.

Redis unavailable: the assessment continues with zero signals and the reason
``velocity_unavailable`` (payments keep working; Postgres holds the decisions).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django_redis import get_redis_connection
from redis.commands.core import AsyncScript, Script

logger = logging.getLogger(__name__)

SHORT_WINDOW_MS = 3_600_000
LONG_WINDOW_MS = 86_400_000
HISTORY_TTL_SECONDS = 400 * 86_400
DAY_MS = 86_400_000

_LUA = """
local now = tonumber(ARGV[1])
local nonce = ARGV[2]
local amount = tonumber(ARGV[3])
local short = tonumber(ARGV[4])
local long = tonumber(ARGV[5])
local history_ttl = tonumber(ARGV[6])
local minute = math.floor(now / 60000)
local out = {}
out[1] = redis.call('GET', KEYS[1]) or ''

-- One sliding window: a sorted set of the attempts inside it (score = time in ms, member =
-- <nonce>:<amount>) and, beside it, the running sum of their amounts. Trimming removes the
-- attempts that left the window and subtracts their amounts: each attempt is added once and
-- removed once, so a call costs O(log n) however many attempts the window holds (a card
-- tester's, or one IP behind a carrier's NAT), never a walk over all of them.
local function slide(zkey, horizon)
  local sumkey = zkey .. ':sum'
  local sum = tonumber(redis.call('GET', sumkey) or '0') or 0
  if redis.call('EXISTS', zkey) == 0 then sum = 0 end
  local expired = redis.call('ZRANGEBYSCORE', zkey, '-inf', now - horizon)
  if #expired > 0 then
    for i = 1, #expired do
      sum = sum - (tonumber(string.match(expired[i], ':(%d+)$')) or 0)
    end
    redis.call('ZREMRANGEBYSCORE', zkey, '-inf', now - horizon)
  end
  redis.call('ZADD', zkey, now, nonce .. ':' .. amount)
  sum = sum + amount
  redis.call('SET', sumkey, sum, 'PX', horizon)
  redis.call('PEXPIRE', zkey, horizon)
  return redis.call('ZCARD', zkey), sum
end

local function window(key)
  if key == '' then return {0, 0, 0, 0} end
  local c1, s1 = slide(key .. ':1h', short)
  local c2, s2 = slide(key .. ':24h', long)
  return {c1, s1, c2, s2}
end

for i = 2, 4 do
  local counts = window(KEYS[i])
  for j = 1, 4 do out[#out + 1] = counts[j] end
end

-- merchant: minute buckets over the last hour
local mkey = KEYS[5]
local mc, ms = 0, 0
if mkey ~= '' then
  local bucket = mkey .. ':' .. minute
  redis.call('HINCRBY', bucket, 'c', 1)
  redis.call('HINCRBY', bucket, 's', amount)
  redis.call('EXPIRE', bucket, 3700)
  for m = minute - 59, minute do
    local values = redis.call('HMGET', mkey .. ':' .. m, 'c', 's')
    mc = mc + (tonumber(values[1]) or 0)
    ms = ms + (tonumber(values[2]) or 0)
  end
end
out[#out + 1] = mc
out[#out + 1] = ms

-- card first seen (ms)
if KEYS[6] ~= '' then
  redis.call('SET', KEYS[6], now, 'NX', 'EX', history_ttl)
  out[#out + 1] = tonumber(redis.call('GET', KEYS[6])) or now
else
  out[#out + 1] = now
end

-- running history before this attempt: e-mail, merchant
for i = 7, 8 do
  if KEYS[i] ~= '' then
    local values = redis.call('HMGET', KEYS[i], 'c', 's')
    out[#out + 1] = tonumber(values[1]) or 0
    out[#out + 1] = tonumber(values[2]) or 0
    redis.call('HINCRBY', KEYS[i], 'c', 1)
    redis.call('HINCRBY', KEYS[i], 's', amount)
    redis.call('EXPIRE', KEYS[i], history_ttl)
  else
    out[#out + 1] = 0
    out[#out + 1] = 0
  end
end
return out
"""


@dataclass(frozen=True, slots=True)
class WindowCounts:
    count_short: int = 0
    amount_short: int = 0
    count_long: int = 0
    amount_long: int = 0


@dataclass(frozen=True, slots=True)
class VelocitySignals:
    config_token: str | None = None  # None: Redis did not answer
    card: WindowCounts = field(default_factory=WindowCounts)
    email: WindowCounts = field(default_factory=WindowCounts)
    ip: WindowCounts = field(default_factory=WindowCounts)
    merchant_window: WindowCounts = field(default_factory=WindowCounts)
    card_age_days: int = 0
    customer_count: int = 0
    customer_amount: int = 0
    merchant_count: int = 0
    merchant_amount: int = 0

    @property
    def available(self) -> bool:
        return self.config_token is not None


_script: Script | AsyncScript | None = None


def key_prefix() -> str:
    prefix = str(settings.CACHES["default"].get("KEY_PREFIX", "") or "ph")
    return f"{prefix}:risk"


def config_token_key() -> str:
    return f"{key_prefix()}:config"


def _get_script() -> Script | AsyncScript:
    global _script
    if _script is None:
        _script = get_redis_connection("default").register_script(_LUA)
    return _script


def _key(kind: str, value: str) -> str:
    return f"{key_prefix()}:{kind}:{value}" if value else ""


def read_and_record_velocity(
    *,
    merchant_id: str,
    mode: str,
    card_fingerprint: str,
    email: str,
    ip_address: str,
    amount_minor: int,
    now_ms: int,
) -> VelocitySignals:
    """Count this attempt and return the signals (one Redis round trip)."""
    scope = f"{mode}:{merchant_id}"
    keys = [
        config_token_key(),
        _key("v:card", card_fingerprint),
        _key("v:email", email),
        _key("v:ip", ip_address),
        _key("v:merchant", scope),
        _key("first:card", card_fingerprint),
        _key("h:email", email),
        _key("h:merchant", scope),
    ]
    args: list[str | int] = [
        now_ms,
        secrets.token_hex(6),
        max(amount_minor, 0),
        SHORT_WINDOW_MS,
        LONG_WINDOW_MS,
        HISTORY_TTL_SECONDS,
    ]
    try:
        raw: list[Any] = _get_script()(keys=keys, args=args)  # type: ignore[assignment]
    except Exception:
        logger.warning("risk velocity unavailable; assessing without it", exc_info=True)
        return VelocitySignals()
    token = raw[0].decode() if isinstance(raw[0], bytes) else str(raw[0])
    numbers = [int(value) for value in raw[1:]]

    def counts(offset: int) -> WindowCounts:
        return WindowCounts(*numbers[offset : offset + 4])

    first_seen_ms = numbers[14]
    return VelocitySignals(
        config_token=token,
        card=counts(0),
        email=counts(4),
        ip=counts(8),
        merchant_window=WindowCounts(count_short=numbers[12], amount_short=numbers[13]),
        card_age_days=max(0, (now_ms - first_seen_ms) // DAY_MS),
        customer_count=numbers[15],
        customer_amount=numbers[16],
        merchant_count=numbers[17],
        merchant_amount=numbers[18],
    )


def read_config_token() -> str | None:
    """The configuration token ('' when never set), or None when Redis does not answer."""
    try:
        raw = get_redis_connection("default").get(config_token_key())
    except Exception:
        logger.warning("could not read the risk config token", exc_info=True)
        return None
    return raw.decode() if isinstance(raw, bytes) else ""


def bump_config_token() -> None:
    """Tell every process that rules, lists or the active model changed."""
    try:
        get_redis_connection("default").set(config_token_key(), secrets.token_hex(8))
    except Exception:
        logger.warning("could not bump the risk config token", exc_info=True)
