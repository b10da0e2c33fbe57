"""Routing rules and connector priorities as a runtime configuration document (ADR 0015).

The ``routing.rules`` document (sensitive: published through a four-eyes approval)::

    {"connector_priorities": {"test": ["simulator"], "live": ["stripe"]},
     "rules": [{"name": "big-eur-test-payments", "mode": "test", "currency": "EUR",
                "min_amount_minor": 100000, "connectors": ["stripe", "simulator"]}]}

Rules are tried in list order and the first whose conditions all hold wins (an absent
condition matches anything: ``merchant`` (public id), ``currency``, ``brand``,
``min_amount_minor`` and ``max_amount_minor``, both inclusive); its connectors are tried in
turn while one is unavailable. When no rule matches, the mode's ``connector_priorities``.
A live rule or priority list may not name a test-only connector (the simulator): a live
payment it "authorized" would move no money.

A document in force is the whole truth: ``RoutingRule`` rows and the
``PAYMENTS_TEST_CONNECTORS`` / ``PAYMENTS_LIVE_CONNECTORS`` settings are used only while no
version of it is in force (before the first publish, or before a scheduled first version's
time).

Routing runs for every payment: the document comes from the configuration's in-process cache
and is compiled once per cached version (an identity check afterwards), so a payment costs no
database query and no parsing while the document is cached.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from apps.common.config import ConfigSchema, ConfigVersion, get_config_version
from apps.common.ids import is_public_id
from apps.common.money import CURRENCY_EXPONENTS, MAX_AMOUNT_MINOR, Money

ROUTING_RULES_KEY = "routing.rules"
MODES = ("test", "live")
MAX_RULES = 500
MAX_NAME_LENGTH = 64

_DOCUMENT_FIELDS = {"connector_priorities", "rules"}
_RULE_REQUIRED = {"name", "mode", "connectors"}
_RULE_CONDITIONS = ("merchant", "currency", "brand", "min_amount_minor", "max_amount_minor")
_BRAND = re.compile(r"^[a-z][a-z0-9_]{0,19}$")


# --- validation: one message per problem, named by JSON path --------------------------------


def _known_connectors() -> tuple[str, ...]:
    # The registry imports this module (to route), so its names are read when validating.
    from apps.payments.connectors.registry import CONNECTOR_NAMES

    return CONNECTOR_NAMES


def _test_only_connectors() -> tuple[str, ...]:
    from apps.payments.connectors.registry import TEST_ONLY_CONNECTORS

    return TEST_ONLY_CONNECTORS


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_fields(
    value: dict[str, Any], *, path: str, required: set[str], allowed: set[str]
) -> list[str]:
    prefix = f"{path}." if path else ""
    errors = [f"{prefix}{name}: is required" for name in sorted(required - value.keys())]
    errors += [f"{prefix}{name}: is not a known field" for name in sorted(value.keys() - allowed)]
    return errors


def _check_connectors(value: Any, *, path: str, mode: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        return [f"{path}: must be a non-empty list of connector names"]
    known = _known_connectors()
    errors = []
    seen: set[str] = set()
    for index, name in enumerate(value):
        if not isinstance(name, str) or name not in known:
            errors.append(
                f"{path}[{index}]: unknown connector {name!r} (known: {', '.join(known)})"
            )
        elif mode == "live" and name in _test_only_connectors():
            errors.append(
                f"{path}[{index}]: {name!r} serves test mode only; a live payment it "
                "authorized would move no money"
            )
        elif name in seen:
            errors.append(f"{path}[{index}]: {name!r} is listed twice")
        else:
            seen.add(name)
    return errors


def validate_connector_list(*, connectors: Any, mode: str) -> list[str]:
    """Every problem with a list of connectors to route ``mode``'s payments to (unknown or
    repeated names, a test-only connector in live mode); empty when it is valid. Used for
    the ``RoutingRule`` rows' admin form, as the document's own rules are checked."""
    return _check_connectors(connectors, path="connectors", mode=mode)


def _check_amount(rule: dict[str, Any], name: str, *, path: str) -> list[str]:
    if name not in rule:
        return []
    value = rule[name]
    if not _is_int(value) or not 0 <= value <= MAX_AMOUNT_MINOR:
        return [
            f"{path}.{name}: must be a whole number of minor units from 0 to {MAX_AMOUNT_MINOR}"
        ]
    return []


def _check_rule(rule: Any, *, path: str, names: dict[str, int], index: int) -> list[str]:
    if not isinstance(rule, dict):
        return [f"{path}: must be a JSON object, not {type(rule).__name__}"]
    errors = _check_fields(
        rule, path=path, required=_RULE_REQUIRED, allowed=_RULE_REQUIRED | set(_RULE_CONDITIONS)
    )
    name = rule.get("name")
    if "name" in rule:
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH:
            errors.append(f"{path}.name: must be a non-empty text of at most {MAX_NAME_LENGTH}")
        elif name in names:
            errors.append(f"{path}.name: {name!r} is already the name of rules[{names[name]}]")
        else:
            names[name] = index
    if "mode" in rule and rule["mode"] not in MODES:
        errors.append(f"{path}.mode: must be one of {', '.join(MODES)}")
    for condition in _RULE_CONDITIONS:
        if condition in rule and rule[condition] is None:
            errors.append(f"{path}.{condition}: must not be null (leave it out to match any)")
    merchant = rule.get("merchant")
    if merchant is not None and not is_public_id(value=merchant, prefix="mch"):
        errors.append(f"{path}.merchant: must be a merchant's public id (mch_...)")
    currency = rule.get("currency")
    if currency is not None and (
        not isinstance(currency, str) or currency not in CURRENCY_EXPONENTS
    ):
        errors.append(f"{path}.currency: {currency!r} is not an ISO 4217 code in upper case")
    brand = rule.get("brand")
    if brand is not None and (not isinstance(brand, str) or not _BRAND.match(brand)):
        errors.append(f"{path}.brand: must be a card brand in lower case (visa, mastercard...)")
    amount_errors = _check_amount(rule, "min_amount_minor", path=path)
    amount_errors += _check_amount(rule, "max_amount_minor", path=path)
    errors += amount_errors
    low, high = rule.get("min_amount_minor"), rule.get("max_amount_minor")
    if not amount_errors and isinstance(low, int) and isinstance(high, int) and low > high:
        errors.append(f"{path}.max_amount_minor: must be at least min_amount_minor ({low})")
    if "connectors" in rule:
        errors += _check_connectors(
            rule["connectors"], path=f"{path}.connectors", mode=rule.get("mode")
        )
    return errors


def validate_routing_rules(body: Any) -> list[str]:
    """Every problem with a ``routing.rules`` body, each named by its JSON path
    (``rules[2].connectors[0]: unknown connector 'adyen' ...``); empty when it is valid."""
    if not isinstance(body, dict):
        return [f"the document must be a JSON object, not {type(body).__name__}"]
    errors = _check_fields(body, path="", required=_DOCUMENT_FIELDS, allowed=_DOCUMENT_FIELDS)
    priorities = body.get("connector_priorities")
    if "connector_priorities" in body:
        if not isinstance(priorities, dict):
            errors.append("connector_priorities: must be an object {mode: [connector, ...]}")
        else:
            errors += _check_fields(
                priorities, path="connector_priorities", required=set(MODES), allowed=set(MODES)
            )
            for mode in MODES:
                if mode in priorities:
                    errors += _check_connectors(
                        priorities[mode], path=f"connector_priorities.{mode}", mode=mode
                    )
    rules = body.get("rules")
    if "rules" in body:
        if not isinstance(rules, list):
            errors.append("rules: must be a list (it may be empty)")
        elif len(rules) > MAX_RULES:
            errors.append(f"rules: at most {MAX_RULES} rules, got {len(rules)}")
        else:
            names: dict[str, int] = {}
            for index, rule in enumerate(rules):
                errors += _check_rule(rule, path=f"rules[{index}]", names=names, index=index)
    return errors


ROUTING_RULES_SCHEMA = ConfigSchema(
    key=ROUTING_RULES_KEY,
    schema_name="routing.rules/v1",
    description=(
        "Which connectors serve a payment, in the order tried: 'rules' in list order, the "
        "first match wins (conditions: mode, merchant, currency, brand, min/max_amount_minor; "
        "absent = any); else the mode's 'connector_priorities'. When a version is in force it "
        "replaces the RoutingRule rows and PAYMENTS_*_CONNECTORS settings."
    ),
    sensitive=True,
    validate=validate_routing_rules,
    example={
        "connector_priorities": {"test": ["simulator"], "live": ["stripe"]},
        "rules": [
            {
                "name": "large-eur-test-payments",
                "mode": "test",
                "currency": "EUR",
                "min_amount_minor": 100000,
                "connectors": ["stripe", "simulator"],
            }
        ],
    },
)


# --- the compiled table ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Rule:
    name: str
    merchant: str | None
    currency: str | None
    brand: str | None
    min_amount_minor: int | None
    max_amount_minor: int | None
    connectors: tuple[str, ...]

    def matches(self, *, merchant_id: str, amount: Money, brand: str) -> bool:
        return (
            (self.merchant is None or self.merchant == merchant_id)
            and (self.currency is None or self.currency == amount.currency)
            and (self.brand is None or self.brand == brand)
            and (self.min_amount_minor is None or amount.amount_minor >= self.min_amount_minor)
            and (self.max_amount_minor is None or amount.amount_minor <= self.max_amount_minor)
        )


@dataclass(frozen=True, slots=True)
class RoutingTable:
    """A valid ``routing.rules`` body, ready to route with (rules grouped by mode)."""

    version: int
    rules: Mapping[str, tuple[_Rule, ...]]
    priorities: Mapping[str, tuple[str, ...]]

    def choose(self, *, merchant_id: str, mode: str, amount: Money, brand: str) -> list[str]:
        brand = brand.lower()
        for rule in self.rules.get(mode, ()):
            if rule.matches(merchant_id=merchant_id, amount=amount, brand=brand):
                return list(rule.connectors)
        return list(self.priorities.get(mode, ()))

    def list_connectors(self) -> list[str]:
        """Every connector the table may route to, in any mode (for monitoring and
        notification polling)."""
        names = [name for mode in MODES for name in self.priorities.get(mode, ())]
        names += [
            name for mode in MODES for rule in self.rules.get(mode, ()) for name in rule.connectors
        ]
        return list(dict.fromkeys(names))


def compile_routing_table(*, body: Mapping[str, Any], version: int) -> RoutingTable:
    """``body`` was validated when published (and again when rolled back to)."""
    rules: dict[str, list[_Rule]] = {mode: [] for mode in MODES}
    for rule in body["rules"]:
        rules[rule["mode"]].append(
            _Rule(
                name=rule["name"],
                merchant=rule.get("merchant"),
                currency=rule.get("currency"),
                brand=rule.get("brand"),
                min_amount_minor=rule.get("min_amount_minor"),
                max_amount_minor=rule.get("max_amount_minor"),
                connectors=tuple(rule["connectors"]),
            )
        )
    return RoutingTable(
        version=version,
        rules={mode: tuple(mode_rules) for mode, mode_rules in rules.items()},
        priorities={mode: tuple(body["connector_priorities"][mode]) for mode in MODES},
    )


# The table compiled from the cached version object: the configuration cache hands out the
# same object until it reloads, so an identity check tells whether this is still current.
_compiled: tuple[ConfigVersion, RoutingTable] | None = None


def get_routing_table() -> RoutingTable | None:
    """The ``routing.rules`` version in force, compiled; None while none is in force."""
    global _compiled
    version = get_config_version(key=ROUTING_RULES_KEY)
    if version is None:
        return None
    compiled = _compiled
    if compiled is not None and compiled[0] is version:
        return compiled[1]
    table = compile_routing_table(body=version.body, version=version.version)
    _compiled = (version, table)
    return table
