"""Input and output shapes of the payments API (amounts in minor units)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from apps.payments.states import PaymentStatus

# The Unix times list filters accept: 1970-01-01 to 9999-12-31 (beyond, no datetime exists).
MAX_UNIX_TIME = 253402300799


def unix_time_field() -> serializers.IntegerField:
    return serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_UNIX_TIME, help_text="Unix time."
    )


class MetadataField(serializers.DictField):
    child = serializers.CharField(max_length=500, allow_blank=True)


class PaymentCreateSerializer(serializers.Serializer[Any]):
    amount = serializers.IntegerField(min_value=1, help_text="In the currency's minor unit.")
    currency = serializers.CharField(min_length=3, max_length=3)
    payment_method = serializers.CharField(required=False, allow_blank=True, default="")
    capture_method = serializers.ChoiceField(
        choices=["automatic", "manual"], required=False, default="automatic"
    )
    confirm = serializers.BooleanField(required=False, default=False)
    customer_email = serializers.EmailField(required=False, allow_blank=True, default="")
    customer = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=40,
        help_text="A customer (`cus_...`); its email is the default `customer_email`, and a "
        "saved `payment_method` (`pm_...`) must be saved for it.",
    )
    description = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=1000
    )
    statement_descriptor = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=22
    )
    metadata = MetadataField(required=False, default=dict)


class PaymentCaptureSerializer(serializers.Serializer[Any]):
    amount_to_capture = serializers.IntegerField(min_value=1, required=False)


class RefundCreateSerializer(serializers.Serializer[Any]):
    payment = serializers.CharField()
    amount = serializers.IntegerField(min_value=1, required=False)
    reason = serializers.ChoiceField(
        choices=["duplicate", "fraudulent", "requested_by_customer"], required=False, default=""
    )
    metadata = MetadataField(required=False, default=dict)


class PaymentListQuerySerializer(serializers.Serializer[Any]):
    limit = serializers.IntegerField(min_value=1, max_value=100, required=False, default=10)
    starting_after = serializers.CharField(required=False)
    status = serializers.ChoiceField(choices=[s.value for s in PaymentStatus], required=False)
    currency = serializers.CharField(min_length=3, max_length=3, required=False)
    customer_email = serializers.CharField(required=False)
    customer = serializers.CharField(required=False, help_text="A customer (`cus_...`).")
    amount = serializers.IntegerField(min_value=1, required=False)
    created_gte = unix_time_field()
    created_lt = unix_time_field()


class RefundListQuerySerializer(serializers.Serializer[Any]):
    limit = serializers.IntegerField(min_value=1, max_value=100, required=False, default=10)
    starting_after = serializers.CharField(required=False)
    payment = serializers.CharField(required=False)


@extend_schema_serializer(component_name="PaymentCard")
class CardSerializer(serializers.Serializer[Any]):
    brand = serializers.CharField()
    last4 = serializers.CharField()


class PaymentRiskSerializer(serializers.Serializer[Any]):
    """The pre-authorization risk assessment: ``action`` (allow, review, block), ``level``
    (normal, elevated, highest), ``score`` (0-100), reason codes, and the manual review's
    status when the payment was held (pending, approved, rejected)."""

    action = serializers.CharField()
    level = serializers.CharField()
    score = serializers.IntegerField(min_value=0, max_value=100)
    reasons = serializers.ListField(child=serializers.CharField())
    review_status = serializers.CharField(allow_null=True)


class PaymentSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    object = serializers.CharField()
    amount = serializers.IntegerField()
    amount_capturable = serializers.IntegerField()
    amount_received = serializers.IntegerField()
    amount_refunded = serializers.IntegerField()
    currency = serializers.CharField()
    status = serializers.ChoiceField(choices=[s.value for s in PaymentStatus])
    capture_method = serializers.CharField()
    payment_method = serializers.CharField(allow_null=True)
    card = CardSerializer(allow_null=True)
    customer = serializers.CharField(allow_null=True)
    customer_email = serializers.CharField(allow_null=True)
    description = serializers.CharField(allow_null=True)
    statement_descriptor = serializers.CharField(allow_null=True)
    metadata = serializers.DictField(child=serializers.CharField())
    last_payment_error = serializers.DictField(allow_null=True)
    risk = PaymentRiskSerializer(allow_null=True)
    livemode = serializers.BooleanField()
    created = serializers.IntegerField()


class RefundSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    object = serializers.CharField()
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    payment = serializers.CharField()
    status = serializers.CharField()
    reason = serializers.CharField(allow_null=True)
    failure_reason = serializers.CharField(allow_null=True)
    metadata = serializers.DictField(child=serializers.CharField())
    livemode = serializers.BooleanField()
    created = serializers.IntegerField()


class PaymentListSerializer(serializers.Serializer[Any]):
    object = serializers.CharField()
    url = serializers.CharField()
    has_more = serializers.BooleanField()
    data = PaymentSerializer(many=True)  # type: ignore[assignment]


class RefundListSerializer(serializers.Serializer[Any]):
    object = serializers.CharField()
    url = serializers.CharField()
    has_more = serializers.BooleanField()
    data = RefundSerializer(many=True)  # type: ignore[assignment]
