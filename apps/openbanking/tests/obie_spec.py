"""Validate HTTP exchanges against the official UK Open Banking v4.0 OpenAPI files.

The files live in ``../shared/data/obie-v4.0/`` (``OBIE_SPEC_DIR`` overrides). Request bodies
and required headers are checked against each operation's parameters and request body;
response bodies against the operation's response for that status, with formats checked.
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from openapi_schema_validator import OAS30Validator, oas30_format_checker

SPEC_DIR = Path(
    os.environ.get("OBIE_SPEC_DIR", str(Path(settings.BASE_DIR).parent / "shared/data/obie-v4.0"))
)
SPEC_FILES = {
    "/open-banking/v4.0/aisp": "account-info-openapi.yaml",
    "/open-banking/v4.0/pisp": "payment-initiation-openapi.yaml",
}


@functools.cache
def load_spec(name: str) -> dict[str, Any]:
    with (SPEC_DIR / name).open(encoding="utf-8") as handle:
        spec: dict[str, Any] = yaml.safe_load(handle)
    return spec


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def _find_operation(path: str, method: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    for prefix, name in SPEC_FILES.items():
        if not path.startswith(prefix + "/"):
            continue
        spec = load_spec(name)
        rest = path[len(prefix) :]
        for template, item in spec["paths"].items():
            pattern = "^" + re.sub(r"\{\w+\}", "[^/]+", template) + "$"
            if re.match(pattern, rest) and method.lower() in item:
                return spec, item[method.lower()], template
        raise AssertionError(f"{method} {path} is not an operation of {name}")
    raise AssertionError(f"{path} is under no OBIE API")


def _validate(spec: dict[str, Any], schema: dict[str, Any], value: Any, what: str) -> None:
    root = {**schema, "components": spec["components"]}
    errors = sorted(
        OAS30Validator(root, format_checker=oas30_format_checker).iter_errors(value),
        key=lambda e: list(e.path),
    )
    assert not errors, f"{what}: " + "; ".join(
        f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:5]
    )


def _json_schema(spec: dict[str, Any], content: dict[str, Any]) -> dict[str, Any]:
    for media in ("application/json; charset=utf-8", "application/json"):
        if media in content:
            return dict(content[media]["schema"])
    raise AssertionError(f"no JSON media type among {sorted(content)}")


def validate_request(*, method: str, path: str, headers: dict[str, str], body: bytes) -> str:
    """Assert the request is one the spec allows; returns the operation's path template."""
    spec, operation, template = _find_operation(path, method)
    lowered = {k.lower(): v for k, v in headers.items()}
    for parameter in operation.get("parameters", []):
        parameter = _resolve(spec, parameter)
        if parameter["in"] == "header" and parameter.get("required"):
            name = parameter["name"].lower()
            assert lowered.get(name), f"{method} {template}: required header {name} missing"
            _validate(spec, parameter["schema"], lowered[name], f"header {name}")
    if "requestBody" in operation:
        request_body = _resolve(spec, operation["requestBody"])
        schema = _json_schema(spec, request_body["content"])
        _validate(spec, schema, json.loads(body), f"{method} {template} request body")
    return template


def validate_response(
    *, method: str, path: str, status: int, headers: dict[str, str], body: Any
) -> str:
    """Assert the response is one the spec documents for this operation and status."""
    spec, operation, template = _find_operation(path, method)
    responses = operation["responses"]
    assert str(status) in responses, f"{method} {template}: undocumented status {status}"
    response = _resolve(spec, responses[str(status)])
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, header in response.get("headers", {}).items():
        header = _resolve(spec, header)
        if header.get("required"):
            assert lowered.get(name.lower()), f"{method} {template}: response header {name}"
    if "content" in response:
        schema = _json_schema(spec, response["content"])
        _validate(spec, schema, body, f"{method} {template} {status} response body")
    else:
        assert body in (None, b"", ""), f"{method} {template} {status} should have no body"
    return template


def validate_recorded_exchanges(records: list[dict[str, Any]]) -> set[str]:
    """Validate every OBIE call the sandbox recorded; returns the operations covered."""
    covered: set[str] = set()
    for record in records:
        if not record["path"].startswith("/open-banking/"):
            continue
        template = validate_request(
            method=record["method"],
            path=record["path"],
            headers=record["headers"],
            body=record["body"],
        )
        validate_response(
            method=record["method"],
            path=record["path"],
            status=record["status"],
            headers=record["reply_headers"],
            body=record["reply"],
        )
        covered.add(f"{record['method']} {template}")
    return covered
