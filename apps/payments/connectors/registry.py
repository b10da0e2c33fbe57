"""Connector names → connector instances, and routing with failover.

Routing: the ``routing.rules`` configuration document when a version is in force
(``apps.payments.routing_config``), else the enabled ``RoutingRule`` rows, else the
``PAYMENTS_TEST_CONNECTORS`` / ``PAYMENTS_LIVE_CONNECTORS`` settings.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import connection

from apps.common.errors import ProcessorError
from apps.common.money import Money
from apps.payments.connectors.base import (
    ConnectorTimeoutError,
    ConnectorUnavailableError,
    OperationResult,
    ProcessorConnector,
)
from apps.payments.connectors.circuit import (
    admit_connector_call,
    record_connector_failure,
    record_connector_success,
)
from apps.payments.connectors.simulator import SimulatorConnector
from apps.payments.connectors.stripe_connector import StripeConnector
from apps.payments.models import RoutingRule
from apps.payments.routing_config import get_routing_table

T = TypeVar("T", bound=OperationResult)

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


class NoConnectorAvailableError(ProcessorError):
    default_code = "processor_unavailable"
    default_message = "No payment processor is available right now; try again shortly."
    http_status = 503


def get_connector(*, name: str) -> ProcessorConnector:
    if name == "simulator":
        return SimulatorConnector()
    if name == "stripe":
        return StripeConnector(
            api_key=str(getattr(settings, "STRIPE_API_KEY", "")),
            api_base=str(getattr(settings, "STRIPE_API_BASE", "https://api.stripe.com")),
            timeout_seconds=float(getattr(settings, "STRIPE_TIMEOUT_SECONDS", 20)),
        )
    raise ValueError(f"unknown connector {name!r}")


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
    *, connectors: list[str], call: Callable[[ProcessorConnector], T]
) -> tuple[str, T]:
    """Call the first connector whose circuit lets us, failing over to the next while one is
    unreachable. A timeout is not failed over (its outcome is unknown): it propagates, naming
    the connector that was called (``ConnectorTimeoutError.connector``): after a failover
    that is not the first one listed, and only that one can say what it did with the key."""
    for name in connectors:
        admitted = admit_connector_call(connector=name)
        if admitted is None:
            continue
        try:
            result = call(get_connector(name=name))
        except ConnectorUnavailableError:
            record_connector_failure(connector=name)
            continue
        except ConnectorTimeoutError as error:
            error.connector = name
            raise
        if result.retriable:
            record_connector_failure(connector=name)
        else:
            record_connector_success(connector=name, admitted=admitted)
        return name, result
    raise NoConnectorAvailableError()
