"""The integrators' events API: the events the platform wrote to its outbox for the calling
merchant (the same ones webhooks deliver), in its mode, read back by id or as a list."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.api.schema import ErrorResponse, QueryParametersSerializer
from apps.common.contracts import EventRecord
from apps.common.outbox_selectors import get_merchant_event, list_merchant_events
from apps.merchants.facade import get_api_principal
from apps.payments.api.serializers import unix_time_field

TAGS = ["Events"]


class EventListQuerySerializer(QueryParametersSerializer):
    limit = serializers.IntegerField(min_value=1, max_value=100, required=False, default=10)
    starting_after = serializers.CharField(required=False, max_length=40)
    type = serializers.CharField(
        required=False,
        max_length=100,
        trim_whitespace=False,
        validators=[RegexValidator(r"^[^ \x00]+$", message="type is an event type or a pattern.")],
        help_text="An event type (`payment.succeeded`), a family (`payment.*`) or `*`.",
    )
    created_gte = unix_time_field()
    created_lt = unix_time_field()


class EventDataSerializer(serializers.Serializer[Any]):
    object = serializers.DictField(
        help_text="The object the event is about, as it was when the event happened."
    )


class EventSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(help_text="`evt_...`; the same id webhooks deliver.")
    object = serializers.CharField(default="event")
    type = serializers.CharField(help_text="e.g. `payment.succeeded`, `refund.failed`.")
    created = serializers.IntegerField()
    livemode = serializers.BooleanField()
    data = EventDataSerializer()  # type: ignore[assignment]
    request = serializers.DictField(
        allow_null=True, help_text='`{"id": "req_..."}`: the API request that caused it.'
    )


class EventListSerializer(serializers.Serializer[Any]):
    object = serializers.CharField()
    url = serializers.CharField()
    has_more = serializers.BooleanField()
    data = EventSerializer(many=True)  # type: ignore[assignment]


def to_event_body(event: EventRecord) -> dict[str, Any]:
    return {
        "id": event.event_id,
        "object": "event",
        "type": event.event_type,
        "created": int(event.created_at.timestamp()),
        "livemode": event.livemode,
        "data": {"object": event.payload},
        "request": {"id": event.request_id} if event.request_id else None,
    }


def _from_unix(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


class EventCollectionView(APIView):
    @extend_schema(
        operation_id="list_events",
        summary="List events",
        description="Your events in the key's mode, newest first, cursor pagination with "
        "`starting_after`; filter by `type` (exact, or a family like `payment.*`) and "
        "creation time.",
        parameters=[EventListQuerySerializer],
        responses={200: EventListSerializer, 400: ErrorResponse("parameter_invalid")},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        principal = get_api_principal(request=request)
        query = EventListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        events, has_more = list_merchant_events(
            merchant_ref=principal.merchant_id,
            livemode=principal.mode == "live",
            limit=params["limit"],
            starting_after=params.get("starting_after"),
            event_type=params.get("type"),
            created_gte=_from_unix(params.get("created_gte")),
            created_lt=_from_unix(params.get("created_lt")),
        )
        body = {
            "object": "list",
            "url": "/v1/events",
            "has_more": has_more,
            "data": [to_event_body(event) for event in events],
        }
        return Response(EventListSerializer(body).data)


class EventDetailView(APIView):
    @extend_schema(
        operation_id="retrieve_event",
        summary="Retrieve an event",
        responses={200: EventSerializer},
        tags=TAGS,
    )
    def get(self, request: Request, event_id: str) -> Response:
        principal = get_api_principal(request=request)
        event = get_merchant_event(
            merchant_ref=principal.merchant_id,
            livemode=principal.mode == "live",
            event_id=event_id,
        )
        return Response(EventSerializer(to_event_body(event)).data)
