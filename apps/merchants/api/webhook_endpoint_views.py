"""/v1/webhook_endpoints: the caller's endpoints, in the calling key's mode, secret keys only.

Create and rotate_secret answer with a signing secret, so they do not take part in
``Idempotency-Key`` replay: the idempotency store would keep the secret in plain text for a
day. They ignore the header (a retried create makes a second endpoint, visible and
deletable; a retried rotation simply rotates again). Update and delete are idempotent-keyed
as usual."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.api.idempotency import IdempotentAPIView
from apps.common.api.schema import ErrorResponse
from apps.merchants.api.serializers import (
    CreateWebhookEndpointSerializer,
    ListWebhookEndpointsQuerySerializer,
    RotateWebhookSecretSerializer,
    UpdateWebhookEndpointSerializer,
    WebhookEndpointListSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointWithSecretSerializer,
)
from apps.merchants.contracts import WebhookEndpointSummary
from apps.merchants.facade import get_api_principal
from apps.merchants.webhook_endpoints import (
    create_webhook_endpoint,
    delete_webhook_endpoint,
    get_webhook_endpoint,
    page_webhook_endpoints,
    rotate_webhook_endpoint_secret,
    update_webhook_endpoint,
)

TAGS = ["Webhook endpoints"]


def _unix(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def serialize_webhook_endpoint(endpoint: WebhookEndpointSummary) -> dict[str, Any]:
    return {
        "id": endpoint.endpoint_id,
        "object": "webhook_endpoint",
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types),
        "enabled": endpoint.enabled,
        "livemode": endpoint.mode == "live",
        "created": _unix(endpoint.created_at),
        "updated": _unix(endpoint.updated_at),
        "previous_secret_expires_at": _unix(endpoint.previous_secret_expires_at),
    }


class WebhookEndpointListView(APIView):
    @extend_schema(
        operation_id="list_webhook_endpoints",
        summary="List webhook endpoints (of the calling key's mode)",
        parameters=[ListWebhookEndpointsQuerySerializer],
        responses={200: WebhookEndpointListSerializer},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        principal = get_api_principal(request=request)
        query = ListWebhookEndpointsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = page_webhook_endpoints(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            limit=query.validated_data["limit"],
            cursor=query.validated_data.get("cursor"),
        )
        data = [serialize_webhook_endpoint(endpoint) for endpoint in page.endpoints]
        return Response(
            {
                "object": "list",
                "data": data,
                "has_more": page.has_more,
                "next_cursor": data[-1]["id"] if page.has_more else None,
            }
        )

    @extend_schema(
        operation_id="create_webhook_endpoint",
        summary="Create a webhook endpoint; the response shows its signing secret once",
        request=CreateWebhookEndpointSerializer,
        responses={
            201: WebhookEndpointWithSecretSerializer,
            400: ErrorResponse(
                "invalid_webhook_endpoint",
                description="`invalid_request_error`: a malformed `url` (or one with "
                "credentials, not HTTPS in live mode, or not of a public host), or "
                "`event_types` that is empty or not of the form `*`, `name` or `family.*`.",
            ),
        },
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        principal = get_api_principal(request=request)
        body = CreateWebhookEndpointSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        created = create_webhook_endpoint(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            url=body.validated_data["url"],
            event_types=body.validated_data["event_types"],
            description=body.validated_data["description"],
            enabled=body.validated_data["enabled"],
            actor_type="api_key",
            actor_id=principal.key_id,
        )
        data = serialize_webhook_endpoint(created.summary) | {"secret": created.secret}
        return Response(data, status=status.HTTP_201_CREATED)


ENDPOINT_ID = OpenApiParameter(
    "endpoint_id", str, OpenApiParameter.PATH, description="The endpoint's id (`we_...`)."
)


class WebhookEndpointDetailView(IdempotentAPIView):
    @extend_schema(
        operation_id="retrieve_webhook_endpoint",
        summary="Retrieve a webhook endpoint",
        parameters=[ENDPOINT_ID],
        responses={200: WebhookEndpointSerializer},
        tags=TAGS,
    )
    def get(self, request: Request, endpoint_id: str) -> Response:
        principal = get_api_principal(request=request)
        endpoint = get_webhook_endpoint(
            merchant_id=principal.merchant_id, endpoint_id=endpoint_id, mode=principal.mode
        )
        return Response(serialize_webhook_endpoint(endpoint))

    @extend_schema(
        operation_id="update_webhook_endpoint",
        summary="Update a webhook endpoint's URL, event filter, description or enabled flag",
        parameters=[ENDPOINT_ID],
        request=UpdateWebhookEndpointSerializer,
        responses={
            200: WebhookEndpointSerializer,
            400: ErrorResponse(
                "invalid_webhook_endpoint",
                description="`invalid_request_error`: a malformed `url` (or one with "
                "credentials, not HTTPS in live mode, or not of a public host), or "
                "`event_types` that is empty or not of the form `*`, `name` or `family.*`.",
            ),
        },
        tags=TAGS,
    )
    def post(self, request: Request, endpoint_id: str) -> Response:
        principal = get_api_principal(request=request)
        body = UpdateWebhookEndpointSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        endpoint = update_webhook_endpoint(
            merchant_id=principal.merchant_id,
            endpoint_id=endpoint_id,
            mode=principal.mode,
            url=body.validated_data.get("url"),
            event_types=body.validated_data.get("event_types"),
            description=body.validated_data.get("description"),
            enabled=body.validated_data.get("enabled"),
            actor_type="api_key",
            actor_id=principal.key_id,
        )
        return Response(serialize_webhook_endpoint(endpoint))

    @extend_schema(
        operation_id="delete_webhook_endpoint",
        summary="Delete a webhook endpoint",
        parameters=[ENDPOINT_ID],
        request=None,
        responses={200: WebhookEndpointSerializer},
        tags=TAGS,
    )
    def delete(self, request: Request, endpoint_id: str) -> Response:
        principal = get_api_principal(request=request)
        endpoint = get_webhook_endpoint(
            merchant_id=principal.merchant_id, endpoint_id=endpoint_id, mode=principal.mode
        )
        delete_webhook_endpoint(
            merchant_id=principal.merchant_id,
            endpoint_id=endpoint_id,
            mode=principal.mode,
            actor_type="api_key",
            actor_id=principal.key_id,
        )
        return Response(serialize_webhook_endpoint(endpoint) | {"deleted": True})


class WebhookEndpointRotateSecretView(APIView):
    @extend_schema(
        operation_id="rotate_webhook_endpoint_secret",
        summary="Issue a new signing secret; the previous one keeps signing for a while",
        parameters=[ENDPOINT_ID],
        request=RotateWebhookSecretSerializer,
        responses={200: WebhookEndpointWithSecretSerializer},
        tags=TAGS,
    )
    def post(self, request: Request, endpoint_id: str) -> Response:
        principal = get_api_principal(request=request)
        body = RotateWebhookSecretSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rotated = rotate_webhook_endpoint_secret(
            merchant_id=principal.merchant_id,
            endpoint_id=endpoint_id,
            mode=principal.mode,
            overlap=timedelta(seconds=body.validated_data["expires_previous_in"]),
            actor_type="api_key",
            actor_id=principal.key_id,
        )
        return Response(serialize_webhook_endpoint(rotated.summary) | {"secret": rotated.secret})
