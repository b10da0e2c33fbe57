"""Webhook delivery: every payment, refund and dispute event to each matching endpoint.

1. The outbox relay hands each event to ``fan_out_webhook_event`` (registered for every
   event, in the relay's per-event savepoint): one ``WebhookDelivery`` row per matching
   endpoint (unique per event and endpoint, so a relay retry creates nothing twice), and a
   Celery task per row once that commits.
2. ``deliver_webhook`` POSTs the event to the endpoint's URL *as it is now* (a URL changed
   after the fan-out gets the retries; the delivery keeps the URL last used), signed with
   every valid secret of the endpoint (``PaymentHub-Signature``, see ``webhook_signature.py``),
   and logs the attempt (status, latency, an excerpt of the response). A 2xx delivers it;
   anything else schedules another try with exponential backoff and jitter, for up to 3 days,
   then gives up. Nothing is POSTed, and the attempt is logged with the reason, when:

   - the endpoint is disabled or deleted: the delivery gives up at once (``failed``; Stripe's
     rule: a disabled endpoint receives nothing, its pending retries included). Once it is
     enabled again, a merchant can send a failed delivery again by hand;
   - the URL's host is, or resolves to, an address that is not public (private, loopback,
     link-local, multicast, reserved, unspecified): server-side request forgery. The attempt
     fails like an unreachable endpoint (retried with backoff: DNS may be fixed). The check
     runs again when the socket connects, against the addresses actually dialled, so a DNS
     answer that changes between check and connect (rebinding) cannot slip through.
     ``WEBHOOK_ALLOW_PRIVATE_TARGETS`` (off by default; on in tests and benchmarks, whose
     receivers listen on 127.0.0.1) turns the check off.
3. Beat runs ``retry_due_webhooks`` so a lost task never loses a delivery; merchants (and
   admins) can redeliver any delivery by hand.
4. ``send_test_webhook``: a merchant's test event (``test.webhook``) to one endpoint only,
   whatever its event filter, signed and logged like any delivery; tried once, now (no
   retries: a failed one is ``failed`` and may be sent again by hand).
"""

from __future__ import annotations

import codecs
import concurrent.futures
import contextlib
import ipaddress
import json
import random
import socket
import threading
import time
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import create_connection

from apps.common.api.versioning import render_for_api_version
from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.common.contracts import DomainEvent
from apps.common.errors import NotFoundError, PaymentHubError, StateError
from apps.common.ids import make_public_id
from apps.common.network import is_public_ip_address
from apps.common.outbox_selectors import PUBLIC_EVENT_TYPE_PREFIXES
from apps.common.transactions import call_on_commit
from apps.merchants.contracts import WebhookEndpointSummary
from apps.merchants.facade import (
    event_type_matches,
    get_merchant,
    get_webhook_endpoint,
    get_webhook_signing_secrets,
    list_webhook_endpoints,
)
from apps.payments.models import WebhookDelivery, WebhookDeliveryAttempt, WebhookDeliveryStatus
from apps.payments.webhook_signature import SIGNATURE_HEADER, build_signature_header

# The public event types: the same ones the events API lists (one definition, in common).
WEBHOOK_EVENT_PREFIXES = PUBLIC_EVENT_TYPE_PREFIXES
GIVE_UP_AFTER = timedelta(days=3)
BACKOFF_BASE_SECONDS = 60
BACKOFF_CAP_SECONDS = 6 * 3600
RESPONSE_EXCERPT_CHARS = 500
TEST_EVENT_TYPE = "test.webhook"
ENDPOINT_DISABLED_ERROR = "Not sent: the webhook endpoint is disabled."
ENDPOINT_DELETED_ERROR = "Not sent: the webhook endpoint no longer exists."
ENDPOINT_UNSUBSCRIBED_ERROR = (
    "Not sent: the webhook endpoint no longer subscribes to this event type."
)


def _enqueue_delivery(delivery_id: str) -> None:
    from apps.payments.tasks import deliver_webhook_task

    deliver_webhook_task.delay(delivery_id=delivery_id)


def build_event_body(*, event: DomainEvent, api_version: str = "") -> str:
    """The delivery's body: the event, its ``data.object`` rendered at ``api_version`` (the
    merchant's pinned version, as its API requests without a header are); the current
    shape without one."""
    body = {
        "id": event.event_id,
        "object": "event",
        "type": event.event_type,
        "created": int(event.created_at.timestamp()),
        "livemode": bool(event.payload.get("livemode", False)),
        "data": {"object": event.payload},
    }
    if api_version:
        body = render_for_api_version(data=body, version=api_version)
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def fan_out_webhook_event(event: DomainEvent) -> None:
    """Outbox handler: one delivery per matching, enabled endpoint of the event's merchant
    and mode. Safe to run twice for one event."""
    if not event.event_type.startswith(WEBHOOK_EVENT_PREFIXES) or not event.merchant_ref:
        return
    mode = "live" if event.payload.get("livemode") else "test"
    matching = [
        endpoint
        for endpoint in list_webhook_endpoints(merchant_id=event.merchant_ref)
        if endpoint.enabled
        and endpoint.mode == mode
        and event_type_matches(event_types=endpoint.event_types, event_type=event.event_type)
    ]
    if not matching:
        return
    # rendered at the merchant's pinned API version, as its API answers without a header
    body = build_event_body(
        event=event, api_version=get_merchant(merchant_id=event.merchant_ref).api_version
    )
    now = get_now()
    for endpoint in matching:
        try:
            with transaction.atomic():
                delivery = WebhookDelivery.objects.create(
                    public_id=make_public_id(prefix="whd"),
                    event_id=event.event_id,
                    event_type=event.event_type,
                    merchant_ref=event.merchant_ref,
                    endpoint_ref=endpoint.endpoint_id,
                    url=endpoint.url,
                    body=body,
                    next_attempt_at=now,
                    enqueued_until=now + get_requeue_window(),
                    created_at=now,
                )
        except IntegrityError:
            continue  # already fanned out (the relay retried this event)
        call_on_commit(_enqueue_delivery, delivery.public_id)


def compute_webhook_backoff(*, attempts: int, rng: random.Random | None = None) -> timedelta:
    """Exponential (1, 2, 4 ... minutes, capped at 6 h) with ±20 % jitter."""
    rng = rng or random.Random()
    base = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return timedelta(seconds=base * rng.uniform(0.8, 1.2))


# --- Sending, to public addresses only (server-side request forgery) ---------------------


class WebhookTargetRefusedError(Exception):
    """The webhook URL's host is, or resolves to, an address that is not public. Not an
    ``OSError``, so urllib3 and requests let it through unwrapped (and never retry it)."""


_resolver_pool = concurrent.futures.ThreadPoolExecutor(
    max_workers=4, thread_name_prefix="webhook-dns"
)
# The deadline of the send under way in this thread (time.monotonic()), for name lookups,
# which no socket timeout bounds.
_send_deadline: ContextVar[float | None] = ContextVar("webhook_send_deadline", default=None)


def _resolve_within_deadline(*, host: str, port: int) -> list[Any]:
    """``getaddrinfo``, given up at the send's deadline (a slow resolver must not stretch a
    send past its lease, when another worker may send the delivery again). The lookup thread
    finishes on its own; its answer is dropped."""
    deadline = _send_deadline.get()
    if deadline is None:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    lookup = _resolver_pool.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        return lookup.result(timeout=max(0.0, deadline - time.monotonic()))
    except concurrent.futures.TimeoutError:
        raise socket.gaierror(f"looking up {host} took longer than the send may") from None


def resolve_public_addresses(*, host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, if all of them are public; raises
    ``WebhookTargetRefusedError`` if any is not (``socket.gaierror`` if none resolves)."""
    addresses: list[str] = []
    for *_, sockaddr in _resolve_within_deadline(host=host, port=port):
        text = str(sockaddr[0])
        address = ipaddress.ip_address(text.partition("%")[0])
        if not is_public_ip_address(address):
            # the merchant sees this message: never the address an internal name resolves to
            where = host if host == text else f"{host} resolves to an address that"
            raise WebhookTargetRefusedError(f"Not sent: {where} is not a public address.")
        if text not in addresses:
            addresses.append(text)
    return addresses


def _connect_to_public_address(connection: HTTPConnection) -> socket.socket:
    """urllib3's ``_new_conn``, dialling only the addresses just checked (no second lookup)."""
    try:
        addresses = resolve_public_addresses(host=connection._dns_host, port=connection.port)
    except socket.gaierror as error:
        raise NameResolutionError(connection.host, connection, error) from error
    last_error: OSError | None = None
    for address in addresses:
        try:
            return create_connection(
                (address, connection.port),
                connection.timeout,
                source_address=connection.source_address,
                socket_options=connection.socket_options,
            )
        except TimeoutError as error:
            raise ConnectTimeoutError(
                connection, f"Connection to {connection.host} timed out."
            ) from error
        except OSError as error:
            last_error = error
    raise NewConnectionError(connection, f"Failed to establish a new connection: {last_error}")


# The sockets of the send under way in this thread: at its deadline a watchdog shuts
# their sockets down, which wakes a read blocked on a trickling endpoint (closing them would
# not: a blocked recv outlives a close from another thread).
_send_sockets: ContextVar[list[socket.socket] | None] = ContextVar(
    "webhook_send_sockets", default=None
)


def _track_connection(connection: HTTPConnection) -> None:
    """Remember the socket as connected (TLS-wrapped for HTTPS): the connection forgets it
    once it hands the response over, while the response still reads from it."""
    sockets = _send_sockets.get()
    if sockets is not None and connection.sock is not None:
        sockets.append(connection.sock)


def _cut_connections(sockets: list[socket.socket]) -> None:
    """The watchdog: shut down every socket of the send (idempotent, from another thread)."""
    for sock in list(sockets):
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


class _TrackedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _track_connection(self)


class _TrackedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _track_connection(self)


class _PublicHTTPConnection(_TrackedHTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _connect_to_public_address(self)


class _PublicHTTPSConnection(_TrackedHTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _connect_to_public_address(self)


def _pool_class(base: type[HTTPConnectionPool], connection: type[HTTPConnection]) -> Any:
    return type(f"{connection.__name__}Pool", (base,), {"ConnectionCls": connection})


class _DeadlineAdapter(HTTPAdapter):
    """Connections the send's watchdog can cut; with ``public_only``, only to public
    addresses (TLS still checks the certificate for the host)."""

    def __init__(self, *, public_only: bool) -> None:
        self._public_only = public_only
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        http, https = (
            (_PublicHTTPConnection, _PublicHTTPSConnection)
            if self._public_only
            else (_TrackedHTTPConnection, _TrackedHTTPSConnection)
        )
        self.poolmanager.pool_classes_by_scheme = {
            "http": _pool_class(HTTPConnectionPool, http),
            "https": _pool_class(HTTPSConnectionPool, https),
        }


def _allows_private_targets() -> bool:
    return bool(getattr(settings, "WEBHOOK_ALLOW_PRIVATE_TARGETS", False))


def _post(*, url: str, body: str, headers: dict[str, str]) -> tuple[int | None, str, str, int]:
    """One send: (status, response excerpt, error, latency ms). Bounded as a whole, not only
    per socket read: however slowly the endpoint answers, it ends at about
    ``WEBHOOK_TIMEOUT_SECONDS``, inside the delivery's lease (so no other worker sends the
    delivery while this send is still open), and reads only the excerpt it stores, never the
    whole body."""
    started = time.monotonic()
    timeout = float(getattr(settings, "WEBHOOK_TIMEOUT_SECONDS", 10))
    deadline = started + timeout
    session = requests.Session()
    sockets: list[socket.socket] = []
    tracking = _send_sockets.set(sockets)
    deadline_token = _send_deadline.set(deadline)
    # a trickling endpoint keeps each read under the timeout: at the deadline the send's
    # sockets are shut down under it
    watchdog = threading.Timer(timeout, _cut_connections, args=(sockets,))
    watchdog.daemon = True
    watchdog.start()
    try:
        public_only = not _allows_private_targets()
        if public_only:
            parts = urlsplit(url)
            # checked here too, for a proxy (HTTPS_PROXY) dials the host, not the adapter
            resolve_public_addresses(
                host=parts.hostname or "",
                port=parts.port or (443 if parts.scheme == "https" else 80),
            )
        session.mount("http://", _DeadlineAdapter(public_only=public_only))
        session.mount("https://", _DeadlineAdapter(public_only=public_only))
        response = session.post(
            url,
            data=body.encode(),
            headers=headers,
            timeout=timeout,
            allow_redirects=False,
            stream=True,
        )
        with response:
            head = _read_head(response=response, deadline=deadline)
        latency = int((time.monotonic() - started) * 1000)
        return response.status_code, _excerpt(head=head, encoding=response.encoding), "", latency
    except WebhookTargetRefusedError as error:
        return None, "", str(error)[:255], int((time.monotonic() - started) * 1000)
    except (requests.RequestException, OSError, ValueError) as error:
        latency = int((time.monotonic() - started) * 1000)
        late = time.monotonic() >= deadline
        return None, "", "Timeout" if late else type(error).__name__, latency
    finally:
        watchdog.cancel()
        _send_sockets.reset(tracking)
        _send_deadline.reset(deadline_token)
        session.close()


def _read_head(*, response: requests.Response, deadline: float) -> bytes:
    """The start of the body, as much as the excerpt needs, read until the deadline: an
    endpoint that answers its status and then trickles its body has answered."""
    wanted = RESPONSE_EXCERPT_CHARS * 4
    head = b""
    try:
        for chunk in response.iter_content(chunk_size=1024):
            head += chunk
            if len(head) >= wanted or time.monotonic() >= deadline:
                break
    except (requests.RequestException, OSError, ValueError):
        pass  # the status came; a body cut short (or cut at the deadline) is still one
    return head[:wanted]


def _excerpt(*, head: bytes, encoding: str | None) -> str:
    """The start of the response as text, storable: decoded with the charset it declares, else
    UTF-8 (never a guess: requests' guess reads short bodies as UTF-16), and without NUL
    characters (PostgreSQL text refuses them)."""
    text = None
    if encoding:
        try:
            if getattr(codecs.lookup(encoding), "_is_text_encoding", True):  # not rot13, zlib
                text = head.decode(encoding, errors="replace")
        except Exception:  # unknown (LookupError), or a codec that refuses "replace" (idna)
            text = None  # or fails otherwise: then read as UTF-8
    if text is None:
        text = head.decode("utf-8", errors="replace")
    # a codec such as unicode_escape can produce lone surrogates, which UTF-8 (and so
    # PostgreSQL) cannot store: each becomes "?"
    text = text[:RESPONSE_EXCERPT_CHARS].encode("utf-8", errors="replace").decode("utf-8")
    return text.replace("\x00", "\ufffd")


def _claim_delivery(*, delivery_id: str, manual: bool, now: datetime) -> WebhookDelivery | None:
    """Lease the delivery for one send, in one UPDATE the database settles: not while another
    worker holds it, and (unless sent by hand) only while pending and due."""
    lease = timedelta(seconds=2 * float(getattr(settings, "WEBHOOK_TIMEOUT_SECONDS", 10)) + 5)
    claimable = WebhookDelivery.objects.filter(public_id=delivery_id).filter(
        Q(leased_until__isnull=True) | Q(leased_until__lt=now)
    )
    if not manual:
        claimable = claimable.filter(status=WebhookDeliveryStatus.PENDING).filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
        )
    if not claimable.update(leased_until=now + lease):
        return None
    return WebhookDelivery.objects.get(public_id=delivery_id)


def _record_delivery_attempt(
    *,
    delivery_id: str,
    manual: bool,
    now: datetime,
    status: int | None,
    excerpt: str,
    error: str,
    latency: int,
    url: str | None = None,
    give_up: bool = False,
) -> str:
    """Log one attempt and move the delivery on; ``give_up`` fails a pending delivery at once
    (its endpoint is disabled or gone), ``url`` is where it was sent."""
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(public_id=delivery_id)
        WebhookDeliveryAttempt.objects.create(
            delivery=delivery,
            attempted_at=now,
            response_status=status,
            latency_ms=latency,
            response_excerpt=excerpt,
            error=error,
            manual=manual,
        )
        delivery.attempts += 1
        delivery.leased_until = None
        delivery.enqueued_until = None
        if url is not None:
            delivery.url = url
        if status is not None and 200 <= status < 300:
            delivery.status = WebhookDeliveryStatus.DELIVERED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
        elif give_up:
            if delivery.status == WebhookDeliveryStatus.PENDING:
                delivery.status = WebhookDeliveryStatus.FAILED
            delivery.next_attempt_at = None
        elif not manual and delivery.status == WebhookDeliveryStatus.PENDING:
            # the schedule counts the automatic attempts only: a merchant's "send again"
            # never pushes the next automatic one further out
            automatic = WebhookDeliveryAttempt.objects.filter(
                delivery=delivery, manual=False
            ).count()
            retry_at = now + compute_webhook_backoff(attempts=automatic)
            if retry_at - delivery.created_at > GIVE_UP_AFTER:
                delivery.status = WebhookDeliveryStatus.FAILED
                delivery.next_attempt_at = None
            else:
                delivery.next_attempt_at = retry_at
        delivery.save()
        return str(delivery.status)


def deliver_webhook(*, delivery_id: str, manual: bool = False, now: datetime | None = None) -> str:
    """Try one delivery now (unless delivered, given up, not due, or being sent by another
    worker); returns its status. Claim → send (no transaction open) → record.

    It goes to the endpoint's current URL. A disabled or deleted endpoint gets nothing: the
    attempt is logged with the reason and the delivery fails (never an exception, so neither
    the task nor the retry job loops on it); a host that is not public is refused unsent."""
    now = now or get_now()
    delivery = _claim_delivery(delivery_id=delivery_id, manual=manual, now=now)
    if delivery is None:
        current = WebhookDelivery.objects.filter(public_id=delivery_id).first()
        return "missing" if current is None else str(current.status)
    endpoint = _find_endpoint(merchant_id=delivery.merchant_ref, endpoint_id=delivery.endpoint_ref)
    secrets: list[str] = []
    if endpoint is not None and endpoint.enabled:
        try:
            secrets = get_webhook_signing_secrets(
                merchant_id=delivery.merchant_ref, endpoint_id=delivery.endpoint_ref, now=now
            )
        except NotFoundError:  # deleted a moment ago
            endpoint = None
    refusal = ""
    if endpoint is None or not endpoint.enabled:
        refusal = ENDPOINT_DELETED_ERROR if endpoint is None else ENDPOINT_DISABLED_ERROR
    elif not manual and not event_type_matches(
        event_types=endpoint.event_types, event_type=delivery.event_type
    ):  # the merchant unsubscribed since: retries stop (a "send again" still sends)
        refusal = ENDPOINT_UNSUBSCRIBED_ERROR
    if refusal or endpoint is None:
        return _record_delivery_attempt(
            delivery_id=delivery_id,
            manual=manual,
            now=now,
            status=None,
            excerpt="",
            error=refusal,
            latency=0,
            give_up=True,
        )
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "PaymentHub-Webhooks/1.0",
        SIGNATURE_HEADER: build_signature_header(
            secrets=secrets, timestamp=int(now.timestamp()), payload=delivery.body.encode()
        ),
    }
    status, excerpt, error, latency = _post(url=endpoint.url, body=delivery.body, headers=headers)
    return _record_delivery_attempt(
        delivery_id=delivery_id,
        manual=manual,
        now=now,
        status=status,
        excerpt=excerpt,
        error=error,
        latency=latency,
        url=endpoint.url,
    )


def _find_endpoint(*, merchant_id: str, endpoint_id: str) -> WebhookEndpointSummary | None:
    for endpoint in list_webhook_endpoints(merchant_id=merchant_id):
        if endpoint.endpoint_id == endpoint_id:
            return endpoint
    return None


def get_requeue_window() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "WEBHOOK_REQUEUE_AFTER_SECONDS", 120)))


def retry_due_webhooks(*, now: datetime | None = None, limit: int = 500) -> int:
    """Enqueue every pending delivery that is due and not already queued (beat; a lost task
    loses nothing: its delivery is queued again once ``WEBHOOK_REQUEUE_AFTER_SECONDS`` pass).

    The due rows are picked ``FOR UPDATE SKIP LOCKED`` and marked ``enqueued_until`` in the
    same transaction (rows another retry run holds are skipped), so overlapping runs never
    queue one twice."""
    now = now or get_now()
    with transaction.atomic():
        due = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(status=WebhookDeliveryStatus.PENDING, next_attempt_at__lte=now)
            .filter(Q(enqueued_until__isnull=True) | Q(enqueued_until__lte=now))
            .order_by("next_attempt_at")
            .values_list("id", "public_id")[:limit]
        )
        WebhookDelivery.objects.filter(id__in=[row_id for row_id, _ in due]).update(
            enqueued_until=now + get_requeue_window()
        )
    for _, delivery_id in due:
        _enqueue_delivery(delivery_id)
    return len(due)


def redeliver_webhook(*, merchant_id: str, delivery_id: str) -> str:
    """Send a delivery again now, whatever its status (a merchant's or an admin's request)."""
    if not WebhookDelivery.objects.filter(public_id=delivery_id, merchant_ref=merchant_id).exists():
        from apps.payments.errors import PaymentNotFoundError

        raise PaymentNotFoundError(message="No such webhook delivery.", param="delivery")
    return deliver_webhook(delivery_id=delivery_id, manual=True)


def redeliver_webhook_for_merchant(
    *,
    merchant_id: str,
    endpoint_id: str,
    delivery_id: str,
    user_id: str,
    ip_address: str | None = None,
) -> str:
    """A merchant user's "send again" of one delivery of one of its endpoints (any age):
    :func:`redeliver_webhook`, audited (``webhook.redelivered``, with the delivery's status
    afterwards as the outcome)."""
    if not WebhookDelivery.objects.filter(
        public_id=delivery_id, merchant_ref=merchant_id, endpoint_ref=endpoint_id
    ).exists():
        from apps.payments.errors import PaymentNotFoundError

        raise PaymentNotFoundError(message="No such webhook delivery.", param="delivery")
    outcome = redeliver_webhook(merchant_id=merchant_id, delivery_id=delivery_id)
    record_audit_event(
        action="webhook.redelivered",
        actor_type="user",
        actor_id=user_id,
        object_type="webhook_delivery",
        object_id=delivery_id,
        merchant_ref=merchant_id,
        ip_address=ip_address,
        metadata={"endpoint": endpoint_id, "outcome": outcome},
    )
    return outcome


def redeliver_webhook_by_admin(
    *,
    merchant_id: str,
    delivery_id: str,
    staff_user_id: str,
    reason: str,
    ip_address: str | None = None,
) -> str:
    """An admin's "send again now": :func:`redeliver_webhook`, audited with the admin's reason
    whatever happens (``webhook.admin_redelivered``; its outcome is the delivery's status, or
    ``refused`` when the service refuses, whose error is then raised on)."""

    def audit(outcome: str) -> None:
        record_audit_event(
            action="webhook.admin_redelivered",
            actor_type="admin",
            actor_id=staff_user_id,
            object_type="webhook_delivery",
            object_id=delivery_id,
            merchant_ref=merchant_id,
            ip_address=ip_address,
            metadata={"reason": reason[:500], "outcome": outcome},
        )

    try:
        outcome = redeliver_webhook(merchant_id=merchant_id, delivery_id=delivery_id)
    except PaymentHubError:
        audit("refused")
        raise
    audit(outcome)
    return outcome


def describe_delivery(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.public_id,
        "event": delivery.event_id,
        "type": delivery.event_type,
        "endpoint": delivery.endpoint_ref,
        "status": delivery.status,
        "attempts": delivery.attempts,
    }


def send_test_webhook(
    *,
    merchant_id: str,
    mode: str,
    endpoint_id: str,
    actor_id: str,
    actor_type: str = "user",
    ip_address: str | None = None,
    now: datetime | None = None,
) -> WebhookDelivery:
    """Send a signed ``test.webhook`` event to one of the merchant's endpoints in this mode
    (and to no other), audited as ``webhook.test_sent``: the delivery row and the audit entry
    are written together, the POST is made after they commit (no transaction across the
    network) and recorded like any attempt. A disabled endpoint is refused (409)."""
    now = now or get_now()
    endpoint = get_webhook_endpoint(merchant_id=merchant_id, endpoint_id=endpoint_id, mode=mode)
    if not endpoint.enabled:
        raise StateError(
            message="This endpoint is disabled: enable it to send it a test event.",
            code="webhook_endpoint_disabled",
            param="webhook_endpoint",
        )
    event = DomainEvent(
        event_id=make_public_id(prefix="evt"),
        event_type=TEST_EVENT_TYPE,
        aggregate_type="webhook_endpoint",
        aggregate_id=endpoint.endpoint_id,
        merchant_ref=merchant_id,
        payload={
            "object": "test_event",
            "webhook_endpoint": endpoint.endpoint_id,
            "message": "A test event sent from the dashboard.",
            "livemode": mode == "live",
        },
        created_at=now,
        attempt=1,
    )
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            public_id=make_public_id(prefix="whd"),
            event_id=event.event_id,
            event_type=event.event_type,
            merchant_ref=merchant_id,
            endpoint_ref=endpoint.endpoint_id,
            url=endpoint.url,
            # at the merchant's pinned version, as its real events are
            body=build_event_body(
                event=event, api_version=get_merchant(merchant_id=merchant_id).api_version
            ),
            next_attempt_at=None,  # never retried by the beat job
            created_at=now,
        )
        record_audit_event(
            action="webhook.test_sent",
            actor_type=actor_type,
            actor_id=actor_id,
            object_type="webhook_endpoint",
            object_id=endpoint.endpoint_id,
            merchant_ref=merchant_id,
            ip_address=ip_address,
            metadata={"delivery": delivery.public_id, "event": event.event_id, "mode": mode},
            occurred_at=now,
        )
    status = deliver_webhook(delivery_id=delivery.public_id, manual=True)
    if status == WebhookDeliveryStatus.PENDING:
        WebhookDelivery.objects.filter(
            public_id=delivery.public_id, status=WebhookDeliveryStatus.PENDING
        ).update(status=WebhookDeliveryStatus.FAILED)
    delivery.refresh_from_db()
    return delivery
