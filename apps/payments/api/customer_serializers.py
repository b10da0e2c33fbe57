"""Input and output shapes of the customers API."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    PolymorphicProxySerializer,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers

from apps.common.api.schema import JSONBodySerializer, QueryParametersSerializer
from apps.payments.api.serializers import MetadataField, unix_time_field


class CustomerCreateSerializer(JSONBodySerializer):
    email = serializers.EmailField(required=False, allow_blank=True, default="", max_length=254)
    name = serializers.CharField(required=False, allow_blank=True, default="", max_length=256)
    phone = serializers.CharField(required=False, allow_blank=True, default="", max_length=32)
    description = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=1000
    )
    metadata = MetadataField(required=False, default=dict)


class CustomerUpdateSerializer(JSONBodySerializer):
    """Only the fields sent change; `""` clears one."""

    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    name = serializers.CharField(required=False, allow_blank=True, max_length=256)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=32)
    description = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    metadata = MetadataField(
        required=False,
        help_text="Merged into the customer's metadata; a key set to an empty string is removed.",
    )


class CustomerListQuerySerializer(QueryParametersSerializer):
    limit = serializers.IntegerField(min_value=1, max_value=100, required=False, default=10)
    starting_after = serializers.CharField(required=False)
    email = serializers.CharField(
        required=False, max_length=254, help_text="Exact email, ignoring case."
    )
    created_gte = unix_time_field()
    created_lt = unix_time_field()


class CustomerPaymentMethodListQuerySerializer(QueryParametersSerializer):
    limit = serializers.IntegerField(min_value=1, max_value=100, required=False, default=10)
    starting_after = serializers.CharField(
        required=False, max_length=40, help_text="The `id` of the last card of the previous page."
    )


class PaymentMethodAttachSerializer(JSONBodySerializer):
    token = serializers.CharField(max_length=64, help_text="A single-use card token (`tok_...`).")


class CustomerSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(help_text="`cus_...`")
    object = serializers.CharField(default="customer")
    email = serializers.CharField(allow_null=True)
    name = serializers.CharField(allow_null=True)
    phone = serializers.CharField(allow_null=True)
    description = serializers.CharField(allow_null=True)
    metadata = serializers.DictField(child=serializers.CharField())
    livemode = serializers.BooleanField()
    created = serializers.IntegerField()


@extend_schema_field({"type": "boolean", "enum": [True]})
class DeletedFlagField(serializers.BooleanField):
    """`deleted`: always `true`, the field that tells a deleted customer from a customer."""


class DeletedCustomerSerializer(serializers.Serializer[Any]):
    """What a deleted customer answers: `{"id": ..., "object": "customer", "deleted": true}`.
    Every field is required, so a customer (which has no `deleted`) never matches this branch
    of `retrieve_customer`'s `oneOf` and a deleted one (which has no `email`, ...) never
    matches the other."""

    id = serializers.CharField(help_text="`cus_...`")
    object = serializers.CharField(help_text="`customer`")
    deleted = DeletedFlagField()


CustomerOrDeletedSerializer = PolymorphicProxySerializer(
    component_name="CustomerOrDeletedCustomer",
    serializers=[CustomerSerializer, DeletedCustomerSerializer],
    resource_type_field_name=None,
)


class CustomerListSerializer(serializers.Serializer[Any]):
    object = serializers.CharField()
    url = serializers.CharField()
    has_more = serializers.BooleanField()
    data = CustomerSerializer(many=True)  # type: ignore[assignment]


@extend_schema_serializer(component_name="SavedCard")
class SavedCardSerializer(serializers.Serializer[Any]):
    brand = serializers.CharField()
    last4 = serializers.CharField()
    exp_month = serializers.IntegerField()
    exp_year = serializers.IntegerField()
    funding = serializers.CharField()
    fingerprint = serializers.CharField()


class CustomerPaymentMethodSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(help_text="A reusable payment method (`pm_...`).")
    object = serializers.CharField(default="payment_method")
    type = serializers.CharField(default="card")
    customer = serializers.CharField(allow_null=True)
    card = SavedCardSerializer()
    livemode = serializers.BooleanField()
    created = serializers.IntegerField()


class CustomerPaymentMethodListSerializer(serializers.Serializer[Any]):
    object = serializers.CharField()
    url = serializers.CharField()
    has_more = serializers.BooleanField()
    data = CustomerPaymentMethodSerializer(many=True)  # type: ignore[assignment]
