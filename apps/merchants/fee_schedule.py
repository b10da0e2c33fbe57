"""The platform's fee schedule as a runtime configuration document (ADR 0015).

The ``fees.schedule`` document (sensitive: published through a four-eyes approval)::

    {"default": [{"currency": "EUR", "payment_method": "card",
                  "percentage": "1.40", "fixed_fee_minor": 25}],
     "merchants": {"mch_...": [{"currency": "EUR", "payment_method": "card",
                                "percentage": "1.20", "fixed_fee_minor": 20}]}}

Percentages are decimal strings (never JSON numbers, which are floats), from 0 to below 100
with at most 4 decimals; fixed fees are whole minor units. ``get_price`` reads it between a
merchant's own negotiated price (a ``PriceListEntry`` set with ``set_price``, which always
wins) and the default ``PriceListEntry`` rows: own price -> this document's entry for the
merchant -> this document's default entry -> the default price list.

The document comes from the configuration's in-process cache and is compiled once per cached
version, so a price costs no extra query while it is cached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from apps.common.config import ConfigSchema, ConfigVersion, get_config_version
from apps.common.ids import is_public_id
from apps.common.money import CURRENCY_EXPONENTS, MAX_AMOUNT_MINOR
from apps.merchants.contracts import PriceSummary
from apps.merchants.models import PaymentMethodType

FEE_SCHEDULE_KEY = "fees.schedule"
MAX_PERCENTAGE = Decimal(100)  # excluded
PERCENTAGE_PLACES = Decimal("0.0001")

_DOCUMENT_FIELDS = {"default", "merchants"}
_ENTRY_FIELDS = {"currency", "payment_method", "percentage", "fixed_fee_minor"}
_DECIMAL = re.compile(r"^[0-9]+(\.[0-9]+)?$")


# --- validation: one message per problem, named by JSON path --------------------------------


def _check_percentage(value: Any, *, path: str) -> list[str]:
    if not isinstance(value, str):
        return [f'{path}: must be a decimal string such as "1.40" (never a JSON number)']
    if not _DECIMAL.match(value):
        return [f'{path}: {value!r} is not a decimal such as "1.40"']
    percentage = Decimal(value)
    errors = []
    if not percentage < MAX_PERCENTAGE:
        errors.append(f"{path}: must be below 100, got {value}")
    if percentage != percentage.quantize(PERCENTAGE_PLACES):
        errors.append(f"{path}: at most 4 decimal places, got {value}")
    return errors


def _check_entry(entry: Any, *, path: str) -> list[str]:
    if not isinstance(entry, dict):
        return [f"{path}: must be a JSON object, not {type(entry).__name__}"]
    errors = [f"{path}.{name}: is required" for name in sorted(_ENTRY_FIELDS - entry.keys())]
    errors += [
        f"{path}.{name}: is not a known field" for name in sorted(entry.keys() - _ENTRY_FIELDS)
    ]
    currency = entry.get("currency")
    if "currency" in entry and (
        not isinstance(currency, str) or currency not in CURRENCY_EXPONENTS
    ):
        errors.append(f"{path}.currency: {currency!r} is not an ISO 4217 code in upper case")
    method = entry.get("payment_method")
    if "payment_method" in entry and method not in PaymentMethodType.values:
        errors.append(
            f"{path}.payment_method: must be one of {', '.join(PaymentMethodType.values)}"
        )
    if "percentage" in entry:
        errors += _check_percentage(entry["percentage"], path=f"{path}.percentage")
    fixed = entry.get("fixed_fee_minor")
    if "fixed_fee_minor" in entry and (
        not isinstance(fixed, int) or isinstance(fixed, bool) or not 0 <= fixed <= MAX_AMOUNT_MINOR
    ):
        errors.append(
            f"{path}.fixed_fee_minor: must be a whole number of minor units from 0 to "
            f"{MAX_AMOUNT_MINOR}"
        )
    return errors


def _check_price_list(value: Any, *, path: str) -> list[str]:
    if not isinstance(value, list):
        return [f"{path}: must be a list of prices"]
    errors = []
    seen: dict[tuple[Any, Any], int] = {}
    for index, entry in enumerate(value):
        entry_path = f"{path}[{index}]"
        errors += _check_entry(entry, path=entry_path)
        if not isinstance(entry, dict):
            continue
        priced = (entry.get("currency"), entry.get("payment_method"))
        if not all(isinstance(part, str) for part in priced):
            continue
        if priced in seen:
            errors.append(
                f"{entry_path}: {priced[0]} {priced[1]} is already priced by {path}[{seen[priced]}]"
            )
        else:
            seen[priced] = index
    return errors


def validate_fee_schedule(body: Any) -> list[str]:
    """Every problem with a ``fees.schedule`` body, each named by its JSON path
    (``merchants.mch_x[0].percentage: must be below 100, got 120``); empty when valid."""
    if not isinstance(body, dict):
        return [f"the document must be a JSON object, not {type(body).__name__}"]
    errors = [f"{name}: is required" for name in sorted({"default"} - body.keys())]
    errors += [f"{name}: is not a known field" for name in sorted(body.keys() - _DOCUMENT_FIELDS)]
    if "default" in body:
        errors += _check_price_list(body["default"], path="default")
    merchants = body.get("merchants", {})
    if not isinstance(merchants, dict):
        errors.append("merchants: must be an object {merchant public id: [price, ...]}")
    else:
        for merchant_id, prices in merchants.items():
            path = f"merchants.{merchant_id}"
            if not is_public_id(value=merchant_id, prefix="mch"):
                errors.append(f"{path}: {merchant_id!r} is not a merchant's public id (mch_...)")
            errors += _check_price_list(prices, path=path)
    return errors


FEE_SCHEDULE_SCHEMA = ConfigSchema(
    key=FEE_SCHEDULE_KEY,
    schema_name="fees.schedule/v1",
    description=(
        "The platform's fee schedule: 'default' prices and per-merchant 'merchants' prices, "
        "each {currency, payment_method, percentage (decimal string, 0 to below 100, at most "
        "4 decimals), fixed_fee_minor}. A merchant's own negotiated price (set_price) wins; "
        "then its entry here, then the default entry here, then the default price list."
    ),
    sensitive=True,
    validate=validate_fee_schedule,
    example={
        "default": [
            {
                "currency": "EUR",
                "payment_method": "card",
                "percentage": "1.40",
                "fixed_fee_minor": 25,
            }
        ],
        "merchants": {},
    },
)


# --- the compiled schedule ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """A valid ``fees.schedule`` body, by (merchant id or None for the default, currency,
    payment method)."""

    revision: str
    prices: dict[tuple[str | None, str, str], PriceSummary]

    def find_price(
        self, *, merchant_id: str, currency: str, payment_method: str
    ) -> PriceSummary | None:
        return self.prices.get((merchant_id, currency, payment_method)) or self.prices.get(
            (None, currency, payment_method)
        )


def compile_fee_schedule(*, body: dict[str, Any], revision: str) -> FeeSchedule:
    """``body`` was validated when published (and again when rolled back to)."""
    lists: list[tuple[str | None, list[dict[str, Any]]]] = [(None, body["default"])]
    lists += list(body.get("merchants", {}).items())
    prices = {}
    for merchant_id, entries in lists:
        for entry in entries:
            prices[(merchant_id, entry["currency"], entry["payment_method"])] = PriceSummary(
                merchant_id=merchant_id,
                currency=entry["currency"],
                payment_method=entry["payment_method"],
                percentage=Decimal(entry["percentage"]),
                fixed_fee_minor=entry["fixed_fee_minor"],
            )
    return FeeSchedule(revision=revision, prices=prices)


# The schedule compiled from the cached version object: the configuration cache hands out the
# same object until it reloads, so an identity check tells whether this is still current.
_compiled: tuple[ConfigVersion, FeeSchedule] | None = None


def get_fee_schedule() -> FeeSchedule | None:
    """The ``fees.schedule`` version in force, compiled; None while none is in force."""
    global _compiled
    version = get_config_version(key=FEE_SCHEDULE_KEY)
    if version is None:
        return None
    compiled = _compiled
    if compiled is not None and compiled[0] is version:
        return compiled[1]
    schedule = compile_fee_schedule(
        body=version.body, revision=f"{version.version}@{version.created_at.isoformat()}"
    )
    _compiled = (version, schedule)
    return schedule


def get_fee_schedule_revision() -> str:
    """Names the ``fees.schedule`` version in force ("" while none is): callers that cache
    prices put it in their cache key, so a new schedule is priced as soon as it is in force."""
    schedule = get_fee_schedule()
    return "" if schedule is None else schedule.revision
