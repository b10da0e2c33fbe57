"""Schemathesis against the OpenAPI schema the app serves at /v1/schema, in process.

Every operation gets generated requests (valid and invalid) with a merchant's test secret
key, and every response passes schemathesis' checks: no 5xx, status codes, content types,
headers and bodies as the schema documents them, requests without the key refused, deleted
resources gone. A stateful run then chains operations along the links schemathesis infers
from the schema (create a payment, then read, confirm, capture or refund it; create a
customer, then read or delete it ...). The two remaining checks (schema-valid input accepted,
schema-invalid input rejected) run per operation too, strict xfails only for the operations
whose business rule no schema can state (BUSINESS_RULES_NO_SCHEMA_CAN_STATE).

The run is deterministic (derandomized) so CI never flakes. FUZZ_EXAMPLES sets the examples
per operation (CI default below; the nightly run uses 300) and FUZZ_STATEFUL_EXAMPLES the
stateful scenarios; see docs/runbooks/fuzzing.md.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
)

from apps.merchants.facade import create_api_key
from apps.payments.tests.api_helpers import make_merchant_with_key

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
FUZZ_STATEFUL_EXAMPLES = int(os.environ.get("FUZZ_STATEFUL_EXAMPLES", "5"))

# The two checks that compare acceptance with what the schema says: schema-valid input is
# accepted, schema-invalid input refused. The schema states every rule it can (enums of the
# supported currencies and API versions, minimum amounts, non-empty lists and strings, URL and
# webhook-URL patterns, "line_items or amount", JSON types), and the API refuses what the
# schema forbids (an empty query parameter, a number where a string is documented). They fail
# only where a business rule depends on state, configuration or an algorithm no schema can
# state: those operations are listed here, each with its reason, as strict xfails, so an
# operation that starts passing fails the run until it is taken off the list.
# docs/runbooks/fuzzing.md.
DATA_ACCEPTANCE_CHECKS: list[schemathesis.CheckFunction] = [
    positive_data_acceptance,
    negative_data_rejection,
]
BUSINESS_RULES_NO_SCHEMA_CAN_STATE = {
    "POST /v1/account/api_version": "the pin only moves forward: a known version older than "
    "the account's pin is 400 api_version_downgrade (depends on the account)",
    "POST /v1/checkout/sessions": "expires_at must be 30 minutes to 24 hours from now "
    "(depends on the clock)",
    "POST /v1/open-banking/consents": "the bank must be one configured for this deployment "
    "(400 bank_unknown); an enum of them would also send the fuzzer to a bank not running",
    "POST /v1/open-banking/payments": "the bank must be one configured for this deployment "
    "(400 bank_unknown)",
    "POST /v1/payments": "payment_method_types must include the method given, and a pay by "
    "bank bank must be configured (400 parameter_invalid / bank_unknown)",
    "POST /v1/payouts": "a manual payout needs a manual payout schedule, a verified payout "
    "account and the funds (400 payouts_not_allowed / payout_account_unverified / "
    "insufficient_funds: depends on the account)",
    "POST /v1/tokens": "a card number must pass the Luhn check (402 card_error invalid_number)",
}


HYPOTHESIS_SETTINGS = {
    "derandomize": True,
    "database": None,
    "deadline": None,
    "suppress_health_check": list(HealthCheck),
}


def _config(*, allow_x00: bool = True) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "generation": {
                "max-examples": FUZZ_EXAMPLES,
                "deterministic": True,
                "database": "none",
                "allow-x00": allow_x00,
                # The merchant's key is added to every request (below), so a generated
                # request "without Authorization" would be one with it.
                "with-security-parameters": False,
            },
        }
    )


def _wsgi_app() -> WSGIHandler:
    return get_wsgi_application()


@pytest.fixture(autouse=True)
def connections_stay_open_across_requests() -> Iterator[None]:
    """The real WSGI handler closes the database connection at the end of each request,
    which would end the test's transaction; Django's test client disconnects the same
    receivers for the same reason."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def merchant_secret(db: Any) -> str:
    merchant_id, _client = make_merchant_with_key()
    return create_api_key(merchant_id=merchant_id, mode="test", key_type="secret").secret


# Loaded once at collection, from the route clients use (public, no database needed).
schema = schemathesis.openapi.from_wsgi("/v1/schema", _wsgi_app(), config=_config())
# The same schema for the acceptance checks, without NUL characters: the API refuses NUL in
# every string (the schema's patterns say so for values), metadata keys included (jsonb cannot
# hold it), which OpenAPI 3.0 cannot state about an object's keys. The tests above still send
# NUL everywhere (a 400, never a 500).
acceptance_schema = schemathesis.openapi.from_wsgi(
    "/v1/schema", _wsgi_app(), config=_config(allow_x00=False)
)


def _headers(*, secret: str, case: schemathesis.Case | None = None) -> dict[str, str]:
    """The merchant's key, and a fresh Idempotency-Key per request: generated keys repeat
    across examples with different bodies, which the API rightly refuses (a 400 the schema
    documents, but one that would hide what the request itself does). A generated key the
    schema forbids (empty, over 255 characters) is kept: it is what that case tests, and the
    API refuses it before it could be reused."""
    generated: Any = dict(case.headers or {}).get("Idempotency-Key") if case else None
    forbidden = isinstance(generated, str) and not 1 <= len(generated) <= 255
    key = str(generated) if forbidden else f"fuzz-{uuid.uuid4()}"
    return {"Authorization": f"Bearer {secret}", "Idempotency-Key": key}


@pytest.mark.slow
@pytest.mark.django_db
@schema.parametrize()
@hypothesis_settings(max_examples=FUZZ_EXAMPLES, **HYPOTHESIS_SETTINGS)  # type: ignore[arg-type]
def test_every_operation_answers_generated_requests_as_the_schema_says(
    case: schemathesis.Case, merchant_secret: str
) -> None:
    """No 5xx, documented status codes, content types and headers, bodies that match the
    schema, requests without the key refused, deleted resources gone."""
    case.call_and_validate(
        headers=_headers(secret=merchant_secret), excluded_checks=DATA_ACCEPTANCE_CHECKS
    )


def filter_body(ctx: Any, body: Any) -> bool:
    """Metadata keys are 1 to 40 characters (the schema's description says so): a rule about
    an object's keys, which OpenAPI 3.0 cannot state (no `propertyNames`), so the acceptance
    test keeps to it instead of reporting every schema-valid key of 41 characters."""
    metadata = body.get("metadata") if isinstance(body, dict) else None
    return not isinstance(metadata, dict) or all(0 < len(key) <= 40 for key in metadata)


@pytest.fixture
def known_business_rule(request: pytest.FixtureRequest) -> None:
    """A strict xfail for an operation whose business rule no schema can state: its test must
    fail, and an unexpected pass fails the run (the rule moved into the schema, or the
    operation changed: take it off the list)."""
    operation = request.node.name.partition("[")[2].removesuffix("]")
    reason = BUSINESS_RULES_NO_SCHEMA_CAN_STATE.get(operation)
    if reason is not None:
        request.node.add_marker(pytest.mark.xfail(reason=reason, strict=True))


def test_every_listed_business_rule_names_an_operation_of_the_schema() -> None:
    operations = {
        f"{result.ok().method.upper()} {result.ok().path}"
        for result in schema.get_all_operations()
        if isinstance(result, Ok)
    }
    assert set(BUSINESS_RULES_NO_SCHEMA_CAN_STATE) <= operations


@pytest.mark.slow
@pytest.mark.django_db
@acceptance_schema.hooks.apply(filter_body)
@acceptance_schema.parametrize()
@hypothesis_settings(max_examples=FUZZ_EXAMPLES, **HYPOTHESIS_SETTINGS)  # type: ignore[arg-type]
def test_every_operation_accepts_exactly_what_the_schema_allows(
    case: schemathesis.Case, merchant_secret: str, known_business_rule: None
) -> None:
    """Schema-valid requests accepted (2xx, or 401/403/404/409/429), schema-invalid ones
    refused, except for the operations listed in BUSINESS_RULES_NO_SCHEMA_CAN_STATE."""
    case.call_and_validate(
        headers=_headers(secret=merchant_secret, case=case), checks=DATA_ACCEPTANCE_CHECKS
    )


@pytest.mark.slow
@pytest.mark.django_db
def test_chained_operations_along_the_inferred_links_answer_as_the_schema_says(
    merchant_secret: str,
) -> None:
    base = schema.as_state_machine()
    # Links inferred from the schema (ids a response returns, used in another path): without
    # them the run would be single calls again.
    assert schema.statistic.transitions.total >= 50

    class APIWorkflows(base):  # type: ignore[valid-type,misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": _headers(secret=merchant_secret)}

        def validate_response(
            self,
            response: schemathesis.Response,
            case: schemathesis.Case,
            additional_checks: list[Any] | None = None,
            **kwargs: Any,
        ) -> None:
            case.validate_response(
                response,
                additional_checks=additional_checks,
                excluded_checks=DATA_ACCEPTANCE_CHECKS,
                transport_kwargs=kwargs,
            )

    APIWorkflows.run(
        settings=hypothesis_settings(
            max_examples=FUZZ_STATEFUL_EXAMPLES,
            stateful_step_count=10,
            **HYPOTHESIS_SETTINGS,  # type: ignore[arg-type]
        )
    )
