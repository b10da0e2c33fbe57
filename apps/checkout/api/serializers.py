"""Input and output shapes of the checkout sessions API (amounts in minor units)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.checkout.models import SessionStatus
from apps.common.api.schema import CurrencyCodeField, JSONBodySerializer, QueryParametersSerializer


class LineItemSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200)
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)
    unit_amount = serializers.IntegerField(
        min_value=1, help_text="Price of one, in the currency's minor unit."
    )


class CheckoutSessionCreateSerializer(JSONBodySerializer):
    # Checked by the service, with its own codes: exactly one of line_items and amount, and
    # line_items holds at least one item.
    openapi_schema_extra = {
        "properties": {
            "line_items": {"minItems": 1},
            "metadata": {
                "maxProperties": 50,
                "description": "At most 50 keys of at most 40 characters.",
            },
        },
        "oneOf": [{"required": ["line_items"]}, {"required": ["amount"]}],
    }

    line_items = LineItemSerializer(many=True, required=False, max_length=100)  # type: ignore[call-arg]
    amount = serializers.IntegerField(
        min_value=1, required=False, help_text="A single amount, instead of line items."
    )
    currency = CurrencyCodeField(min_length=3, max_length=3)
    success_url = serializers.URLField(max_length=2000)
    cancel_url = serializers.URLField(max_length=2000)
    customer_email = serializers.EmailField(required=False, allow_blank=True, default="")
    payment_method_types = serializers.ListField(
        child=serializers.ChoiceField(choices=["card", "pay_by_bank"]),
        required=False,
        min_length=1,
        max_length=2,
    )
    expires_at = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=253402300799,
        help_text="Unix time, 30 minutes to 24 hours from now (default: 24 hours).",
    )
    locale = serializers.ChoiceField(choices=["auto", "en", "it"], required=False, default="auto")
    metadata = serializers.DictField(
        child=serializers.CharField(max_length=500, allow_blank=True),
        required=False,
        default=dict,
    )

    def validate_metadata(self, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 50 or any(len(key) > 40 for key in value):
            raise serializers.ValidationError("At most 50 keys of at most 40 characters.")
        if any("\x00" in key for key in value):  # jsonb cannot hold it: a 400, not a 500
            raise serializers.ValidationError("Metadata keys may not contain null characters.")
        return value


class CheckoutSessionListQuerySerializer(QueryParametersSerializer):
    limit = serializers.IntegerField(min_value=1, max_value=100, required=False, default=10)
    starting_after = serializers.CharField(required=False)
    status = serializers.ChoiceField(choices=[s.value for s in SessionStatus], required=False)


class CheckoutLineItemOutSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_amount = serializers.IntegerField()
    amount_total = serializers.IntegerField()


class CheckoutSessionSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    object = serializers.CharField()
    status = serializers.ChoiceField(choices=[s.value for s in SessionStatus])
    url = serializers.CharField(allow_null=True, help_text="The hosted page, while open.")
    amount_total = serializers.IntegerField()
    currency = serializers.CharField()
    line_items = CheckoutLineItemOutSerializer(many=True)
    success_url = serializers.CharField()
    cancel_url = serializers.CharField()
    customer_email = serializers.CharField(allow_null=True)
    payment_method_types = serializers.ListField(child=serializers.CharField())
    payment = serializers.CharField(allow_null=True)
    locale = serializers.CharField(allow_null=True)
    metadata = serializers.DictField(child=serializers.CharField())
    livemode = serializers.BooleanField()
    expires_at = serializers.IntegerField()
    created = serializers.IntegerField()


class CheckoutSessionListSerializer(serializers.Serializer[Any]):
    object = serializers.CharField()
    url = serializers.CharField()
    has_more = serializers.BooleanField()
    data = CheckoutSessionSerializer(many=True)  # type: ignore[assignment]
