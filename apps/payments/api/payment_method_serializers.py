"""Input and output shapes of ``/v1/payment_methods`` (a customer's saved cards)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.common.api.schema import JSONBodySerializer
from apps.payments.api.customer_serializers import (
    CustomerPaymentMethodListQuerySerializer,
    SavedCardSerializer,
)


class CreatePaymentMethodSerializer(JSONBodySerializer):
    token = serializers.CharField(max_length=64, help_text="A single-use token (`tok_...`).")
    customer = serializers.CharField(
        max_length=200,
        help_text="The customer (`cus_...`, yours, in this mode, not deleted) to save it for.",
    )


class ListPaymentMethodsQuerySerializer(CustomerPaymentMethodListQuerySerializer):
    customer = serializers.CharField(max_length=200, help_text="The customer (`cus_...`).")


class PaymentMethodSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(help_text="A reusable payment method (`pm_...`).")
    object = serializers.CharField(default="payment_method")
    type = serializers.CharField(default="card")
    customer = serializers.CharField(
        allow_null=True, help_text="The customer (`cus_...`); null once detached."
    )
    card = SavedCardSerializer()
    created = serializers.IntegerField()
    livemode = serializers.BooleanField()


class PaymentMethodListSerializer(serializers.Serializer[Any]):
    object = serializers.CharField(default="list")
    data = PaymentMethodSerializer(many=True)  # type: ignore[assignment]
    has_more = serializers.BooleanField()
