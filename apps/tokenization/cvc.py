"""The CVC's only home: Redis, sealed under the record's data key, for at most ten minutes.

``store_cvc`` writes with a TTL (``VAULT_CVC_TTL_SECONDS``, at most 600); ``take_cvc`` reads
and deletes in one command (``GETDEL``), so a CVC is used for one authorization at most.
Nothing here ever reaches PostgreSQL or a log line. Redis unreachable when a CVC is taken:
the authorization goes on without one, as when it has expired (a payment must not fail, or be
left unknown, because the CVC store is down); the outage is logged.
"""

from __future__ import annotations

import logging
from uuid import UUID

from django.conf import settings
from django.views.decorators.debug import sensitive_variables
from django_redis import get_redis_connection
from redis import Redis, RedisError

from apps.tokenization.crypto import open_cvc, seal_cvc

logger = logging.getLogger(__name__)

MAX_CVC_TTL_SECONDS = 600


def cvc_key(*, record_id: UUID) -> str:
    return f"{settings.VAULT_CVC_KEY_PREFIX}{record_id}"


def get_cvc_redis() -> Redis:
    """The Redis connection of the CVC store (cache alias ``VAULT_CVC_CACHE_ALIAS``)."""
    connection: Redis = get_redis_connection(settings.VAULT_CVC_CACHE_ALIAS)
    return connection


def get_cvc_ttl_seconds() -> int:
    return min(int(settings.VAULT_CVC_TTL_SECONDS), MAX_CVC_TTL_SECONDS)


@sensitive_variables("cvc", "data_key", "sealed")
def store_cvc(*, record_id: UUID, data_key: bytes, cvc: str) -> None:
    sealed = seal_cvc(record_id=record_id, data_key=data_key, cvc=cvc)
    get_cvc_redis().set(cvc_key(record_id=record_id), sealed, ex=get_cvc_ttl_seconds())


@sensitive_variables("data_key", "sealed")
def take_cvc(*, record_id: UUID, data_key: bytes) -> str | None:
    """The CVC if it is still there (then it is gone), else ``None`` (also when Redis cannot
    be reached: the authorization goes on without a CVC)."""
    try:
        sealed = get_cvc_redis().getdel(cvc_key(record_id=record_id))
    except RedisError as error:
        logger.warning(
            "CVC store unreachable (%s); authorizing without a CVC", type(error).__name__
        )
        return None
    if sealed is None:
        return None
    assert isinstance(sealed, bytes)  # the connection never decodes responses
    return open_cvc(record_id=record_id, data_key=data_key, sealed=sealed)


def discard_cvc(*, record_id: UUID) -> None:
    """Best effort: a CVC left behind is sealed under the record's data key, which shredding
    destroys, and expires with its TTL; so an unreachable store never blocks a detach, a
    customer's deletion or a shred."""
    try:
        get_cvc_redis().delete(cvc_key(record_id=record_id))
    except RedisError as error:
        logger.warning(
            "CVC store unreachable (%s); the CVC expires by itself", type(error).__name__
        )
