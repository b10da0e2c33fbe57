"""Schemathesis against the OpenAPI schema the app serves at /v1/schema, in process.

Every operation gets generated requests (valid and invalid) with a merchant's test secret
key, and every response passes schemathesis' checks: no 5xx, status codes, content types,
headers and bodies as the schema documents them, requests without the key refused, deleted
resources gone. A stateful run then chains operations along the links schemathesis infers
from the schema (create a payment, then read, confirm, capture or refund it; create a
customer, then read or delete it ...). The two remaining checks (schema-valid input accepted,
schema-invalid input rejected) run too, as a documented known failure.

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
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
)

from apps.merchants.facade import create_api_key
from apps.payments.tests.api_helpers import make_merchant_with_key

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
FUZZ_STATEFUL_EXAMPLES = int(os.environ.get("FUZZ_STATEFUL_EXAMPLES", "5"))

# The two checks that compare acceptance with what the schema can express. They are run (below,
# as a known failure) but cannot pass yet: business rules the schema does not state reject
# schema-valid input with a precise 400/402 (Luhn, unknown bank, unknown API version, "either
# line_items or amount", https-only webhook URLs, empty lists), and lenient parsing accepts
# some schema-invalid input (an empty filter means "no filter", an over-long X-Request-Id is
# replaced). Neither is a 5xx nor a response outside the schema. docs/runbooks/fuzzing.md.
DATA_ACCEPTANCE_CHECKS: list[schemathesis.CheckFunction] = [
    positive_data_acceptance,
    negative_data_rejection,
]
DATA_ACCEPTANCE_REASON = (
    "known failure: business-rule 400s on schema-valid input and lenient parsing of "
    "schema-invalid input (docs/runbooks/fuzzing.md)"
)

HYPOTHESIS_SETTINGS = {
    "derandomize": True,
    "database": None,
    "deadline": None,
    "suppress_health_check": list(HealthCheck),
}


def _config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "generation": {
                "max-examples": FUZZ_EXAMPLES,
                "deterministic": True,
                "database": "none",
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


def _headers(*, secret: str) -> dict[str, str]:
    """The merchant's key, and a fresh Idempotency-Key per request: generated keys repeat
    across examples with different bodies, which the API rightly refuses (a 400 the schema
    documents, but one that would hide what the request itself does)."""
    return {"Authorization": f"Bearer {secret}", "Idempotency-Key": f"fuzz-{uuid.uuid4()}"}


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


@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.xfail(reason=DATA_ACCEPTANCE_REASON, strict=False)
@schema.parametrize()
@hypothesis_settings(max_examples=FUZZ_EXAMPLES, **HYPOTHESIS_SETTINGS)  # type: ignore[arg-type]
def test_every_operation_accepts_exactly_what_the_schema_allows(
    case: schemathesis.Case, merchant_secret: str
) -> None:
    case.call_and_validate(headers=_headers(secret=merchant_secret), checks=DATA_ACCEPTANCE_CHECKS)


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
