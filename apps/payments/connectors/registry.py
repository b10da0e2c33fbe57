"""Connector names → connector instances, and routing with failover.

Routing: the ``routing.rules`` configuration document when a version is in force
(``apps.payments.routing_config``), else the enabled ``RoutingRule`` rows, else the
``PAYMENTS_TEST_CONNECTORS`` / ``PAYMENTS_LIVE_CONNECTORS`` settings.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import connection

from apps.common.errors import ProcessorError
from apps.common.money import Money
from apps.payments.connectors.base import (
    ConnectorNotConfiguredError,
    ConnectorTimeoutError,
    ConnectorUnavailableError,
    OperationResult,
    ProcessorConnector,
)
from apps.payments.connectors.circuit import (
    admit_connector_call,
    get_circuit_name,
    record_connector_failure,
    record_connector_success,
)
from apps.payments.connectors.simulator import SimulatorConnector
from apps.payments.connectors.stripe_connector import StripeConnector
from apps.payments.models import RoutingRule
from apps.payments.routing_config import MODES, get_routing_table

T = TypeVar("T", bound=OperationResult)
logger = logging.getLogger(__name__)

# The first enabled rule matching a payment (an empty condition matches everything), in
# RoutingRule's order. Written out once rather than built by the ORM for every payment: with
# its five either-or conditions, compiling the queryset cost more than running it.
MATCHING_RULE_SQL = f"""
    SELECT connectors::text FROM {RoutingRule._meta.db_table}
    WHERE mode = %s AND enabled
      AND (merchant_ref = '' OR merchant_ref = %s)
      AND (currency = '' OR currency = %s)
      AND (brand = '' OR brand = %s)
      AND (min_amount_minor IS NULL OR min_amount_minor <= %s)
      AND (max_amount_minor IS NULL OR max_amount_minor >= %s)
    ORDER BY priority, id
    LIMIT 1
"""  # noqa: S608 - the table name is the model's own, every value a parameter

# Every name get_connector knows: what routing (rules, documents, settings) may name.
CONNECTOR_NAMES = ("simulator", "stripe")
# Connectors that move no money: never for live payments (routing refuses to name them
# there, and get_connector refuses to build them for live mode).
TEST_ONLY_CONNECTORS = ("simulator",)


class NoConnectorAvailableError(ProcessorError):
    default_code = "processor_unavailable"
    default_message = "No payment processor is available right now; try again shortly."
    http_status = 503


# A Stripe secret or restricted key names its mode in its prefix.
LIVE_KEY_PREFIXES = ("sk_live_", "rk_live_")
TEST_KEY_PREFIXES = ("sk_test_", "rk_test_")


def get_stripe_api_key(*, mode: str) -> str:
    """The Stripe key for ``mode``: ``STRIPE_TEST_API_KEY`` / ``STRIPE_LIVE_API_KEY``, else
    ``STRIPE_API_KEY`` for the mode its prefix names (a key without a live prefix serves
    test mode only). A key whose prefix names the other mode is never used: a test payment
    must not move real money, nor a live payment be faked with a test key."""
    key = str(getattr(settings, f"STRIPE_{mode.upper()}_API_KEY", "") or "")
    if not key:
        shared = str(getattr(settings, "STRIPE_API_KEY", "") or "")
        shared_mode = "live" if shared.startswith(LIVE_KEY_PREFIXES) else "test"
        key = shared if shared_mode == mode else ""
    if not key:
        raise ConnectorNotConfiguredError(f"stripe: no API key for {mode} mode")
    other_prefixes = TEST_KEY_PREFIXES if mode == "live" else LIVE_KEY_PREFIXES
    if key.startswith(other_prefixes):
        raise ConnectorNotConfiguredError(
            f"stripe: the {mode} mode key is a {'test' if mode == 'live' else 'live'} key"
        )
    return key


def get_connector(*, name: str, mode: str) -> ProcessorConnector:
    """The connector ``name`` as it serves ``mode`` (its credentials for that mode).
    ConnectorNotConfiguredError when it cannot serve it here, or no connector has the name
    (routing is configuration: a name the registry does not know is skipped, not a crash)."""
    if name == "simulator":
        if mode != "test":
            raise ConnectorNotConfiguredError("simulator: serves test mode only")
        return SimulatorConnector()
    if name == "stripe":
        return StripeConnector(
            api_key=get_stripe_api_key(mode=mode),
            api_base=str(getattr(settings, "STRIPE_API_BASE", "https://api.stripe.com")),
            timeout_seconds=float(getattr(settings, "STRIPE_TIMEOUT_SECONDS", 20)),
        )
    raise ConnectorNotConfiguredError(f"unknown connector {name!r}")


def list_connector_modes(*, name: str) -> list[str]:
    """The modes ``name`` serves here (the simulator: test; Stripe: those with a key)."""
    return [mode for mode in MODES if has_connector_for_mode(name=name, mode=mode)]


def has_connector_for_mode(*, name: str, mode: str) -> bool:
    """Whether ``name`` can serve ``mode`` here (see :func:`get_connector`)."""
    try:
        get_connector(name=name, mode=mode)
    except ConnectorNotConfiguredError:
        return False
    return True


def _default_connectors(*, mode: str) -> list[str]:
    if mode == "test":
        return list(getattr(settings, "PAYMENTS_TEST_CONNECTORS", ["simulator"]))
    return list(getattr(settings, "PAYMENTS_LIVE_CONNECTORS", ["stripe"]))


def choose_connectors(*, merchant_id: str, mode: str, amount: Money, brand: str = "") -> list[str]:
    """The connectors for this payment, in the order to try them: from the ``routing.rules``
    document in force (served from the in-process configuration cache, no query), else the
    first matching enabled ``RoutingRule`` row, else the mode's default setting."""
    table = get_routing_table()
    if table is not None:
        return table.choose(merchant_id=merchant_id, mode=mode, amount=amount, brand=brand)
    amount_minor = amount.amount_minor
    parameters: list[str | int] = [
        mode,
        merchant_id,
        amount.currency,
        brand,
        amount_minor,
        amount_minor,
    ]
    with connection.cursor() as cursor:
        cursor.execute(MATCHING_RULE_SQL, parameters)
        row = cursor.fetchone()
    if row is None:
        return _default_connectors(mode=mode)
    return list(json.loads(row[0]))


def call_with_failover(
    *, connectors: list[str], mode: str, call: Callable[[ProcessorConnector], T]
) -> tuple[str, T]:
    """Call the first connector that serves ``mode`` and whose circuit (the mode's: see
    ``circuit.get_circuit_name``) lets us, failing over to the next while one is unreachable.
    A timeout is not failed over (its outcome is unknown): it propagates, naming the connector
    that was called (``ConnectorTimeoutError.connector``): after a failover that is not the
    first one listed, and only that one can say what it did with the key. A connector that
    cannot serve the mode (the simulator in live mode, Stripe without the mode's key) is
    skipped with an error logged, and not counted as a processor failure."""
    for name in connectors:
        try:
            connector = get_connector(name=name, mode=mode)
        except ConnectorNotConfiguredError as error:
            logger.error(
                "routing names %s for %s mode, which it cannot serve: %s", name, mode, error
            )
            continue
        circuit = get_circuit_name(connector=name, mode=mode)
        admitted = admit_connector_call(connector=circuit)
        if admitted is None:
            continue
        try:
            result = call(connector)
        except ConnectorUnavailableError:
            record_connector_failure(connector=circuit)
            continue
        except ConnectorTimeoutError as error:
            error.connector = name
            raise
        if result.retriable:
            record_connector_failure(connector=circuit)
        else:
            record_connector_success(connector=circuit, admitted=admitted)
        return name, result
    raise NoConnectorAvailableError()
