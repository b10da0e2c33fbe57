"""The OpenAPI schema at /v1/schema is public, valid, generated without a single warning, and
describes every /v1/ route with its errors and headers (apps/common/api/schema.py).

The checks walk the URLconf and the generated schema, so an endpoint added later is held to
the same rules without touching this file."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from openapi_spec_validator import validate as validate_openapi_spec
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.api.idempotency import IdempotentAPIView
from apps.common.api.versioning import KNOWN_API_VERSIONS

pytestmark = pytest.mark.django_db

# The schema and docs pages themselves are not operations of the API.
DOCUMENTATION_ROUTES = {"v1/schema", "v1/openapi.json", "v1/docs/", "v1/redoc/"}
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def _generate(patterns: list[Any] | None = None) -> tuple[dict[str, Any], list[str]]:
    """The schema as `manage.py spectacular` builds it, and every warning or error emitted."""
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)
        problems = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    return json.loads(json.dumps(schema, default=str)), problems


@pytest.fixture(scope="module")
def generated() -> tuple[dict[str, Any], list[str]]:
    return _generate()


@pytest.fixture(scope="module")
def schema(generated: tuple[dict[str, Any], list[str]]) -> dict[str, Any]:
    return generated[0]


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (route, method, operation)
        for route, item in schema["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def _walk(patterns: list[Any], prefix: str = "") -> list[tuple[str, Any]]:
    found = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found += _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            found.append((route, pattern.callback))
    return found


def _openapi_path(route: str) -> str:
    """`v1/payments/<str:payment_id>` → `/v1/payments/{payment_id}`."""
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def _api_views() -> list[tuple[str, type]]:
    views = []
    for route, callback in _walk(get_resolver().url_patterns):
        view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
        if route.startswith("v1/") and route not in DOCUMENTATION_ROUTES and view_class:
            views.append((route, view_class))
    return views


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        kind, name = node["$ref"].split("/")[-2:]
        node = schema["components"][kind][name]
    return node


def _header_names(parameters: list[dict[str, Any]]) -> set[str]:
    return {p["name"] for p in parameters if p["in"] == "header"}


class TestTheSchemaIsServedPublicly:
    def test_v1_schema_answers_json_without_an_api_key(self, client: Client):
        response = client.get("/v1/schema")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["info"]["title"] == "PaymentHub API"

    def test_v1_schema_answers_yaml_when_asked_by_format_or_accept(self, client: Client):
        by_format = client.get("/v1/schema", {"format": "yaml"})
        by_accept = client.get("/v1/schema", HTTP_ACCEPT="application/yaml")
        for response in (by_format, by_accept):
            assert response.status_code == 200
            assert "yaml" in response["Content-Type"]
            assert yaml.safe_load(response.content)["openapi"].startswith("3.")

    def test_v1_openapi_json_stays_an_alias_of_the_same_schema(self, client: Client):
        alias = client.get("/v1/openapi.json")
        assert alias.status_code == 200
        assert alias.json()["paths"].keys() == client.get("/v1/schema").json()["paths"].keys()

    def test_a_wrong_api_key_does_not_turn_the_schema_or_the_docs_into_a_401(self, client: Client):
        for url in ("/v1/schema", "/v1/docs/", "/v1/redoc/"):
            response = client.get(url, HTTP_AUTHORIZATION="Bearer sk_test_not-a-real-key")
            assert response.status_code == 200, url

    def test_the_schema_reveals_no_secret(self, client: Client):
        text = client.get("/v1/schema").content.decode()
        assert settings.SECRET_KEY not in text
        assert not re.search(r"\b[sp]k_(test|live)_[A-Za-z0-9]{16,}", text)
        assert not re.search(r"(postgres|redis|amqp)://", text)
        assert "servers" not in json.loads(text)

    def test_the_docs_pages_point_at_v1_schema_and_load_only_our_static_files(self, client: Client):
        for url in ("/v1/docs/", "/v1/redoc/"):
            response = client.get(url)
            page = response.content.decode()
            assert response.status_code == 200
            assert "/static/drf_spectacular_sidecar/" in page
            assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), url
            assert "<script>" not in page, f"{url} has an inline script"
            assert "script-src 'self'" in response["Content-Security-Policy"]
        assert "/v1/schema" in client.get("/v1/redoc/").content.decode()
        assert "/v1/schema" in client.get("/v1/docs/", {"script": ""}).content.decode()


class TestTheSchemaIsValid:
    def test_generating_it_emits_no_warning_and_no_error(self, generated):
        _, problems = generated
        assert problems == []

    def test_it_validates_against_the_openapi_specification(self, client: Client):
        served = client.get("/v1/schema").json()
        validate_openapi_spec(served)  # semantic checks: refs, path parameters, defaults
        validate_schema(served)  # drf-spectacular's JSON-schema check, as --validate runs

    def test_operation_ids_are_unique(self, schema):
        ids = [operation["operationId"] for _, _, operation in _operations(schema)]
        assert len(ids) == len(set(ids))


class TestEveryRouteIsDocumented:
    def test_every_v1_route_and_method_of_the_urlconf_is_in_the_schema(self, schema):
        missing = []
        for route, view_class in _api_views():
            item = schema["paths"].get(_openapi_path(route), {})
            for method in HTTP_METHODS:
                if hasattr(view_class, method) and method not in item:
                    missing.append(f"{method.upper()} /{route}")
        assert not missing

    def test_the_walk_sees_the_payments_api(self):
        assert "v1/payments/<public_id:payment_id>/confirm" in dict(_api_views())

    def test_every_operation_has_a_summary_a_tag_and_an_api_key_scheme(self, schema):
        for route, method, operation in _operations(schema):
            assert operation.get("summary"), (method, route)
            assert operation.get("tags"), (method, route)
            assert operation.get("security"), (method, route)
        schemes = schema["components"]["securitySchemes"]
        assert {scheme["scheme"] for scheme in schemes.values()} == {"bearer"}
        assert "sk_test_" in schemes["ApiKey"]["description"]
        assert "pk_test_" in schemes["PublishableKey"]["description"]


class TestEveryErrorIsDocumented:
    def test_every_operation_documents_400_401_429_and_500_with_the_error_envelope(self, schema):
        for route, method, operation in _operations(schema):
            responses = operation["responses"]
            for status in ("400", "401", "429", "500"):
                assert status in responses, (method, route, status)
            for status, response in responses.items():
                if int(status) >= 400:
                    body = response["content"]["application/json"]["schema"]
                    assert body == {"$ref": "#/components/schemas/ErrorEnvelope"}, (
                        method,
                        route,
                        status,
                    )
                    assert response["x-error-codes"], (method, route, status)

    def test_the_envelope_has_type_code_message_param_and_decline_code(self, schema):
        error = _resolve(schema, schema["components"]["schemas"]["ErrorEnvelope"])
        fields = _resolve(schema, error["properties"]["error"])["properties"]
        assert {"type", "code", "message", "param", "decline_code"} <= set(fields)

    def test_a_429_names_its_retry_after_header(self, schema):
        for route, method, operation in _operations(schema):
            headers = operation["responses"]["429"]["headers"]
            assert "Retry-After" in headers, (method, route)
            assert _resolve(schema, headers["Retry-After"])["schema"]["type"] == "integer"

    def test_routes_naming_an_object_document_404_and_keyed_posts_409(self, schema):
        for route, method, operation in _operations(schema):
            if "{" in route:
                assert "404" in operation["responses"], (method, route)
        for route, view_class in _api_views():
            if issubclass(view_class, IdempotentAPIView) and hasattr(view_class, "post"):
                operation = schema["paths"][_openapi_path(route)]["post"]
                assert "409" in operation["responses"], route
                assert "idempotency_key_in_use" in operation["responses"]["409"]["x-error-codes"]

    def test_a_secret_key_only_operation_documents_403_for_a_publishable_key(self, schema):
        forbidden = schema["paths"]["/v1/payments"]["post"]["responses"]["403"]
        assert "publishable" in forbidden["description"]

    def test_create_and_confirm_document_a_402_card_declined(self, schema):
        for route in ("/v1/payments", "/v1/payments/{payment_id}/confirm"):
            declined = schema["paths"][route]["post"]["responses"]["402"]
            assert "card_declined" in declined["x-error-codes"]
            assert "decline_code" in declined["description"]

    def test_the_codes_a_view_declares_join_the_shared_ones(self, schema):
        conflict = schema["paths"]["/v1/payments/{payment_id}/capture"]["post"]["responses"]["409"]
        assert {"payment_intent_unexpected_state", "idempotency_key_in_use"} <= set(
            conflict["x-error-codes"]
        )
        assert "`payment_intent_unexpected_state`" in conflict["description"]


class TestEveryHeaderIsDocumented:
    def test_every_post_documents_the_idempotency_key(self, schema):
        for route, method, operation in _operations(schema):
            if method == "post":
                assert "Idempotency-Key" in _header_names(operation["parameters"]), route

    def test_keyed_posts_document_idempotent_replayed_on_their_responses(self, schema):
        for route, view_class in _api_views():
            if issubclass(view_class, IdempotentAPIView) and hasattr(view_class, "post"):
                responses = schema["paths"][_openapi_path(route)]["post"]["responses"]
                success = next(r for status, r in responses.items() if status.startswith("2"))
                assert "Idempotent-Replayed" in success["headers"], route
                assert "Idempotent-Replayed" not in responses["429"]["headers"], route

    def test_every_operation_documents_the_paymenthub_version_both_ways(self, schema):
        for route, method, operation in _operations(schema):
            assert "PaymentHub-Version" in _header_names(operation["parameters"]), route
            for status, response in operation["responses"].items():
                assert "PaymentHub-Version" in response["headers"], (method, route, status)

    def test_the_version_header_lists_the_known_versions(self, schema):
        version = _resolve(schema, schema["components"]["headers"]["PaymentHub-Version"])
        assert version["schema"]["enum"] == list(KNOWN_API_VERSIONS)

    def test_every_response_documents_the_rate_limit_headers(self, schema):
        for route, method, operation in _operations(schema):
            for status, response in operation["responses"].items():
                assert {"X-RateLimit-Limit", "X-RateLimit-Remaining"} <= set(response["headers"]), (
                    method,
                    route,
                    status,
                )


class TestAnEndpointAddedLaterIsDocumentedWithoutAnnotations:
    def test_a_bare_view_gets_the_envelope_headers_and_errors(self):
        class WidgetView(IdempotentAPIView):
            def get(self, request: Request, widget_id: str) -> Response:
                return Response({})

            def post(self, request: Request, widget_id: str) -> Response:
                return Response({})

        class WidgetListView(APIView):
            def get(self, request: Request) -> Response:
                return Response({})

        schema, _ = _generate(
            [
                path("v1/widgets/<str:widget_id>", WidgetView.as_view()),
                path("v1/widgets", WidgetListView.as_view()),
            ]
        )
        post = schema["paths"]["/v1/widgets/{widget_id}"]["post"]
        assert {"400", "401", "403", "404", "409", "429", "500"} <= set(post["responses"])
        assert {"Idempotency-Key", "PaymentHub-Version"} <= _header_names(post["parameters"])
        assert "description" not in post  # not IdempotentAPIView's docstring
        listing = schema["paths"]["/v1/widgets"]["get"]
        assert {"400", "401", "403", "429", "500"} <= set(listing["responses"])
        assert not {"404", "409"} & set(listing["responses"])


def _request_body(schema: dict[str, Any], route: str, method: str = "post") -> dict[str, Any]:
    content = schema["paths"][route][method]["requestBody"]["content"]
    return _resolve(schema, content["application/json"]["schema"])


def _query(schema: dict[str, Any], route: str, name: str) -> dict[str, Any]:
    parameters = schema["paths"][route]["get"]["parameters"]
    return _resolve(schema, next(p for p in parameters if p["name"] == name)["schema"])


class TestTheSchemaStatesWhatTheApiAccepts:
    """What Schemathesis' acceptance checks hold the API to (tests/test_api_fuzzing.py)."""

    def test_request_bodies_are_documented_as_json_only(self, schema):
        for route, _method, operation in _operations(schema):
            if "requestBody" in operation:
                assert set(operation["requestBody"]["content"]) == {"application/json"}, route

    def test_currencies_are_the_supported_ones_in_either_case(self, schema):
        currency = _request_body(schema, "/v1/payments")["properties"]["currency"]
        enum = _resolve(schema, currency["allOf"][0])["enum"]
        assert {"EUR", "eur", "JPY", "jpy"} <= set(enum)
        assert "AAA" not in enum
        assert (
            _resolve(schema, _query(schema, "/v1/balance_transactions", "currency")["allOf"][0])[
                "enum"
            ]
            == enum
        )

    def test_an_api_version_to_pin_is_one_of_the_known_ones(self, schema):
        field = _request_body(schema, "/v1/account/api_version")["properties"]["api_version"]
        assert _resolve(schema, field["allOf"][0])["enum"] == list(KNOWN_API_VERSIONS)

    def test_lists_that_may_not_be_empty_say_so(self, schema):
        consent = _request_body(schema, "/v1/open-banking/consents")["properties"]
        assert consent["permissions"]["minItems"] == 1
        payment = _request_body(schema, "/v1/payments")["properties"]
        assert payment["payment_method_types"]["minItems"] == 1
        endpoint = _request_body(schema, "/v1/webhook_endpoints")["properties"]
        assert endpoint["event_types"]["minItems"] == 1

    def test_a_payout_is_at_least_one_minor_unit(self, schema):
        assert _request_body(schema, "/v1/payouts")["properties"]["amount"]["minimum"] == 1

    def test_a_checkout_session_takes_line_items_or_an_amount(self, schema):
        body = _request_body(schema, "/v1/checkout/sessions")
        assert body["oneOf"] == [{"required": ["line_items"]}, {"required": ["amount"]}]
        assert body["properties"]["line_items"]["minItems"] == 1

    def test_urls_are_patterns_django_accepts_not_any_uri(self, schema):
        success_url = _request_body(schema, "/v1/checkout/sessions")["properties"]["success_url"]
        assert "format" not in success_url
        pattern = re.compile(success_url["pattern"])
        assert pattern.search("https://shop.example/ok?x=1")
        assert not pattern.search("https://0.a")  # no top-level domain of letters
        assert not pattern.search("mailto:ada@example.com")

    def test_strings_say_they_hold_no_nul_and_are_not_only_whitespace(self, schema):
        name = _request_body(schema, "/v1/customers")["properties"]["name"]  # may be blank
        assert re.search(name["pattern"], "")
        assert not re.search(name["pattern"], "a\x00")
        payment = _request_body(schema, "/v1/refunds")["properties"]["payment"]
        assert not re.search(payment["pattern"], "  ")
        assert re.search(payment["pattern"], " pay_1 ")

    def test_responses_carry_no_input_rules(self, schema):
        customer = _resolve(schema, {"$ref": "#/components/schemas/Customer"})
        assert "pattern" not in customer["properties"]["name"]

    def test_x_request_id_is_any_string_since_the_server_replaces_a_bad_one(self, schema):
        for route, _method, operation in _operations(schema):
            header = next(p for p in operation["parameters"] if p["name"] == "X-Request-Id")
            assert header["schema"] == {"type": "string"}, route

    def test_list_endpoints_document_unknown_parameters_as_a_400(self, schema):
        listing = schema["paths"]["/v1/payments"]["get"]["responses"]["400"]
        assert "parameter_unknown" in listing["x-error-codes"]

    def test_bodies_document_unknown_keys_as_a_400_and_forbid_them(self, schema):
        create = schema["paths"]["/v1/payments"]["post"]
        assert "parameter_unknown" in create["responses"]["400"]["x-error-codes"]
        body = _request_body(schema, "/v1/payments")
        assert body["additionalProperties"] is False
        nested = body["properties"]["payment_method_data"]
        nested = _resolve(schema, nested["allOf"][0] if "allOf" in nested else nested)
        assert nested["additionalProperties"] is False

    def test_endpoints_that_take_no_body_document_that_a_key_in_one_is_a_400(self, schema):
        for route, method in [
            ("/v1/payments/{payment_id}/cancel", "post"),
            ("/v1/disputes/{dispute_id}/close", "post"),
            ("/v1/customers/{customer_id}", "delete"),
        ]:
            operation = schema["paths"][route][method]
            assert "requestBody" not in operation, route
            assert "parameter_unknown" in operation["responses"]["400"]["x-error-codes"], route
        retrieve = schema["paths"]["/v1/payments/{payment_id}"]["get"]  # no body, no query
        assert "parameter_unknown" not in retrieve["responses"]["400"]["x-error-codes"]

    def test_the_token_body_is_documented_as_strict_about_its_keys(self, schema):
        token = _request_body(schema, "/v1/tokens")
        assert token["additionalProperties"] is False
        assert (
            "parameter_unknown"
            in (schema["paths"]["/v1/tokens"]["post"]["responses"]["400"]["x-error-codes"])
        )

    def test_object_ids_in_payments_paths_are_documented_as_their_characters(self, schema):
        detail = schema["paths"]["/v1/payments/{payment_id}"]["get"]
        path_id = next(p for p in detail["parameters"] if p["in"] == "path")
        assert path_id["schema"]["pattern"] == "^[0-9A-Za-z_]{1,64}$"

    def test_create_payment_documents_the_errors_it_returns(self, schema):
        responses = schema["paths"]["/v1/payments"]["post"]["responses"]
        assert {"amount_too_large", "currency_not_supported", "invalid_currency"} <= set(
            responses["400"]["x-error-codes"]
        )
        assert "resource_missing" in responses["404"]["x-error-codes"]  # unknown payment_method
        listing = schema["paths"]["/v1/payments"]["get"]["responses"]["400"]
        assert "invalid_currency" in listing["x-error-codes"]

    def test_a_payment_documents_its_card_at_every_api_version(self, schema):
        payment = _resolve(schema, {"$ref": "#/components/schemas/Payment"})
        assert {"card", "card_brand", "card_last4"} <= set(payment["properties"])
        assert not {"card", "card_brand", "card_last4"} & set(payment["required"])


def _validator(schema: dict[str, Any], route: str, method: str, status: str) -> Any:
    from openapi_schema_validator import OAS30Validator

    response = schema["paths"][route][method]["responses"][status]
    body = response["content"]["application/json"]["schema"]
    return OAS30Validator({"allOf": [body], "components": schema["components"]})


def _matching_branches(schema: dict[str, Any], ref_holder: dict[str, Any], body: Any) -> int:
    from openapi_schema_validator import OAS30Validator

    branches = _resolve(schema, ref_holder)["oneOf"]
    return sum(
        OAS30Validator({"allOf": [branch], "components": schema["components"]}).is_valid(body)
        for branch in branches
    )


class TestRealResponsesMatchTheSchema:
    """Bodies the API really returns, validated against the operation's documented response
    (a `oneOf` must match exactly one branch)."""

    def _assert_documented(self, schema, route, method, response):
        validator = _validator(schema, route, method, str(response.status_code))
        errors = [
            f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(response.json())
        ]
        assert errors == [], (route, method, response.json())

    def test_a_customer_and_a_deleted_customer_each_match_one_branch_of_retrieve(self, schema):
        from apps.payments.tests.api_helpers import make_merchant_with_key, make_token, post_json

        merchant_id, client = make_merchant_with_key()
        created = post_json(client, "/v1/customers", {"email": "ada@shop.example"})
        customer_id = created.json()["id"]
        detail = "/v1/customers/{customer_id}"
        self._assert_documented(schema, "/v1/customers", "post", created)
        card = post_json(
            client,
            f"/v1/customers/{customer_id}/payment_methods",
            {"token": make_token(merchant_id=merchant_id)},
        )
        self._assert_documented(schema, detail + "/payment_methods", "post", card)
        self._assert_documented(
            schema,
            detail + "/payment_methods",
            "get",
            client.get(f"/v1/customers/{customer_id}/payment_methods"),
        )
        self._assert_documented(schema, "/v1/customers", "get", client.get("/v1/customers"))
        retrieved = client.get(f"/v1/customers/{customer_id}")
        self._assert_documented(schema, detail, "get", retrieved)
        one_of = schema["paths"][detail]["get"]["responses"]["200"]["content"]["application/json"]
        assert _matching_branches(schema, one_of["schema"], retrieved.json()) == 1

        deleted = client.delete(f"/v1/customers/{customer_id}")
        self._assert_documented(schema, detail, "delete", deleted)
        retrieved_deleted = client.get(f"/v1/customers/{customer_id}")
        self._assert_documented(schema, detail, "get", retrieved_deleted)
        assert _matching_branches(schema, one_of["schema"], retrieved_deleted.json()) == 1
        self._assert_documented(schema, "/v1/events", "get", client.get("/v1/events"))

    def test_a_deleted_customer_requires_its_object_and_deleted_flag(self, schema):
        deleted = _resolve(schema, {"$ref": "#/components/schemas/DeletedCustomer"})
        assert set(deleted["required"]) == {"id", "object", "deleted"}
        assert _resolve(schema, deleted["properties"]["deleted"])["enum"] == [True]

    def test_error_bodies_match_the_envelope_and_carry_a_documented_code(self, schema):
        from apps.payments.tests.api_helpers import make_merchant_with_key

        _, client = make_merchant_with_key()
        for route, url in [
            ("/v1/customers", "/v1/customers?limit=101"),
            ("/v1/customers", "/v1/customers?created_lt=-1"),
            ("/v1/customers", "/v1/customers?starting_after=%00"),
            ("/v1/customers", "/v1/customers?email=" + "e" * 255),
            ("/v1/disputes", "/v1/disputes?status=bogus"),
            ("/v1/events", "/v1/events?type=pay*.*"),
        ]:
            response = client.get(url)
            assert response.status_code == 400, url
            self._assert_documented(schema, route, "get", response)
            documented = schema["paths"][route]["get"]["responses"]["400"]["x-error-codes"]
            assert response.json()["error"]["code"] in documented, url
