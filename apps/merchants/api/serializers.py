from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.common.api.schema import (
    HTTP_URL_PATTERN,
    ApiVersionField,
    JSONBodySerializer,
    QueryParametersSerializer,
)


@extend_schema_field({"type": "string", "pattern": f"^{HTTP_URL_PATTERN}$"})
class WebhookURLField(serializers.CharField):
    """Documents the http(s) URL the service accepts; the service checks it
    (``apps.merchants.webhook_endpoints.validate_webhook_url``, 400
    ``invalid_webhook_endpoint``)."""


# What apps.merchants.webhook_endpoints.normalize_event_types accepts (it refuses anything else
# with its own code): at least one event type, each `*`, an exact name or a `prefix.*` family.
EVENT_TYPE_PATTERN = r"^(?:\*|[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*(?:\.\*)?)$"


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "maxLength": 100, "pattern": EVENT_TYPE_PATTERN},
        "minItems": 1,
        "maxItems": 100,
    }
)
class EventTypesField(serializers.ListField):
    """Documents the event types the service accepts; the service checks every item
    (``apps.merchants.webhook_endpoints.normalize_event_types``)."""


class AccountCapabilitiesSerializer(serializers.Serializer):
    test_payments = serializers.ChoiceField(choices=["active", "inactive"])
    live_payments = serializers.ChoiceField(choices=["active", "inactive"])


class AccountSerializer(serializers.Serializer):
    """The authenticated merchant, as GET /v1/account returns it."""

    id = serializers.CharField(help_text="The merchant's public id (`mch_...`).")
    object = serializers.CharField(default="account")
    legal_name = serializers.CharField()
    trading_name = serializers.CharField()
    country = serializers.CharField(help_text="ISO 3166-1 alpha-2.")
    settlement_currency = serializers.CharField(help_text="ISO 4217, upper case.")
    support_email = serializers.EmailField()
    status = serializers.ChoiceField(
        choices=["applied", "in_review", "active", "rejected", "suspended"]
    )
    livemode = serializers.BooleanField(help_text="Whether the calling key is a live-mode key.")
    capabilities = AccountCapabilitiesSerializer()
    api_version = serializers.CharField(
        help_text="The pinned API version (`YYYY-MM-DD`): requests without a "
        "`PaymentHub-Version` header are served at it."
    )
    created = serializers.IntegerField(help_text="Unix time the merchant was created.")


class UpgradeApiVersionSerializer(JSONBodySerializer):
    api_version = ApiVersionField(
        max_length=10,
        help_text="A known version (`YYYY-MM-DD`) not older than the account's pin.",
    )


# --- Webhook endpoints --------------------------------------------------------------------


class WebhookEndpointSerializer(serializers.Serializer):
    """A webhook endpoint as the API returns it. The signing secret is never part of it,
    except once, in the responses of create and rotate_secret."""

    id = serializers.CharField(help_text="The endpoint's public id (`we_...`).")
    object = serializers.CharField(default="webhook_endpoint")
    url = serializers.CharField()
    description = serializers.CharField()
    event_types = serializers.ListField(
        child=serializers.CharField(),
        help_text='Event types delivered: exact names, `prefix.*`, or `["*"]` for all.',
    )
    enabled = serializers.BooleanField()
    livemode = serializers.BooleanField()
    created = serializers.IntegerField(help_text="Unix time.")
    updated = serializers.IntegerField(help_text="Unix time.")
    previous_secret_expires_at = serializers.IntegerField(
        allow_null=True,
        help_text="During a rotation: Unix time until which the previous secret still signs.",
    )


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        help_text="The signing secret (`whsec_...`). Shown only in this response: store it."
    )


class WebhookEndpointListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data = WebhookEndpointSerializer(many=True)  # type: ignore[assignment]
    has_more = serializers.BooleanField()
    next_cursor = serializers.CharField(
        allow_null=True, help_text="Pass as `cursor` to get the next page; null on the last."
    )


class ListWebhookEndpointsQuerySerializer(QueryParametersSerializer):
    limit = serializers.IntegerField(min_value=1, max_value=100, default=10)
    cursor = serializers.CharField(required=False, max_length=40)


class CreateWebhookEndpointSerializer(JSONBodySerializer):
    url = WebhookURLField(max_length=2000, help_text="https:// (http allowed in test mode).")
    event_types = EventTypesField(
        child=serializers.CharField(max_length=100),
        max_length=100,
        default=["*"],
        help_text='Defaults to `["*"]` (every event).',
    )
    description = serializers.CharField(max_length=200, allow_blank=True, default="")
    enabled = serializers.BooleanField(default=True)


class UpdateWebhookEndpointSerializer(JSONBodySerializer):
    url = WebhookURLField(max_length=2000, required=False)
    event_types = EventTypesField(
        child=serializers.CharField(max_length=100), max_length=100, required=False
    )
    description = serializers.CharField(max_length=200, allow_blank=True, required=False)
    enabled = serializers.BooleanField(required=False)


class RotateWebhookSecretSerializer(JSONBodySerializer):
    expires_previous_in = serializers.IntegerField(
        min_value=0,
        max_value=7 * 24 * 3600,
        default=24 * 3600,
        help_text="Seconds the previous secret keeps signing (0 to 7 days; default 24 hours).",
    )
