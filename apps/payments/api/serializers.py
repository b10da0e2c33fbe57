"""Input and output shapes of the payments API (amounts in minor units)."""

from __future__ import annotations

from typing import Any

from django.core.validators import MinValueValidator
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from apps.common.api.schema import (
    CurrencyCodeField,
    IPAddressField,
    JSONBodySerializer,
    QueryParametersSerializer,
)
from apps.payments.states import PaymentStatus

# The Unix times list filters accept: 1970-01-01 to 9999-12-31 (beyond, no datetime exists).
MAX_UNIX_TIME = 253402300799


def unix_time_field() -> serializers.IntegerField:
    return serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_UNIX_TIME, help_text="Unix time."
    )


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {
            "oneOf": [
                {"type": "string", "maxLength": 500, "pattern": "^[^\\u0000]*$"},
                {"type": "integer"},
            ]
        },
        "maxProperties": 50,
        "description": "At most 50 keys of 1 to 40 characters; values are strings of at most "
        "500 characters (integers are accepted and stored as strings).",
    }
)
class MetadataField(serializers.DictField):
    child = serializers.CharField(max_length=500, allow_blank=True)
    json_value_types = (str, int)  # apps.payments.metadata: integers stored as strings

    def to_internal_value(self, data: Any) -> dict[str, str]:
        value: dict[str, str] = super().to_internal_value(data)
        # The values' CharField refuses NUL; a key with one would reach jsonb and fail there.
        if any("\x00" in str(key) for key in value):
            raise serializers.ValidationError("Metadata keys may not contain null characters.")
        return value


class PayByBankDataSerializer(serializers.Serializer[Any]):
    bank = serializers.CharField(
        max_length=40, help_text="A bank's `id` from `GET /v1/open-banking/banks`."
    )


class PaymentMethodDataSerializer(serializers.Serializer[Any]):
    """A payment method given inline: pay by bank (the shopper picks the bank)."""

    type = serializers.ChoiceField(choices=["pay_by_bank"])
    pay_by_bank = PayByBankDataSerializer()


PAYMENT_METHOD_TYPES = ("card", "pay_by_bank")


def check_payment_method_types(values: dict[str, Any]) -> dict[str, Any]:
    """``payment_method_types`` (when sent) must allow the method given."""
    types = values.get("payment_method_types")
    if not types:
        return values
    if values.get("payment_method_data") and "pay_by_bank" not in types:
        raise serializers.ValidationError(
            {"payment_method_types": ["payment_method_types does not include pay_by_bank."]}
        )
    if values.get("payment_method") and "card" not in types:
        raise serializers.ValidationError(
            {"payment_method_types": ["payment_method_types does not include card."]}
        )
    return values


class AmountField(serializers.IntegerField):
    """An amount in minor units, at least 1: below that is 400 ``amount_too_small`` (the
    services' code for the same refusal), not DRF's ``min_value``; the schema still says
    ``minimum: 1``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, **kwargs)
        for validator in self.validators:
            if isinstance(validator, MinValueValidator):
                validator.code = "amount_too_small"
                validator.message = "The amount must be at least 1 (in the currency's minor unit)."


class PaymentCreateSerializer(JSONBodySerializer):
    amount = AmountField(help_text="In the currency's minor unit.")
    currency = CurrencyCodeField(min_length=3, max_length=3)
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
    client_ip = IPAddressField(
        required=False,
        allow_null=True,
        default=None,
        help_text="The shopper's IP address, when your server knows it: used by risk "
        "(velocity and block lists per IP).",
    )
    payment_method_types = serializers.ListField(
        child=serializers.ChoiceField(choices=PAYMENT_METHOD_TYPES),
        required=False,
        allow_empty=False,
        max_length=2,
        help_text="The methods this payment may use: `card`, `pay_by_bank`.",
    )
    payment_method_data = PaymentMethodDataSerializer(
        required=False,
        help_text='Pay by bank: `{"type": "pay_by_bank", "pay_by_bank": {"bank": '
        '"sandbox"}}` instead of a card `payment_method`.',
    )
    return_url = serializers.URLField(
        required=False,
        allow_blank=True,
        default="",
        max_length=2000,
        help_text="Pay by bank: where the shopper is sent back after the bank (with "
        "`confirm=true`).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return check_payment_method_types(attrs)


class PaymentConfirmSerializer(JSONBodySerializer):
    payment_method_data = PaymentMethodDataSerializer(required=False)
    return_url = serializers.URLField(
        required=False,
        allow_blank=True,
        default="",
        max_length=2000,
        help_text="Pay by bank: where the shopper is sent back after the bank.",
    )


class PaymentCaptureSerializer(JSONBodySerializer):
    amount_to_capture = AmountField(required=False)


class RefundCreateSerializer(JSONBodySerializer):
    payment = serializers.CharField()
    amount = AmountField(required=False)
    reason = serializers.ChoiceField(
        choices=["duplicate", "fraudulent", "requested_by_customer"], required=False, default=""
    )
    metadata = MetadataField(required=False, default=dict)


class PaymentListQuerySerializer(QueryParametersSerializer):
    open_parameter_prefixes = ("metadata[",)  # `metadata[key]=value`, read by the view
    limit = serializers.IntegerField(min_value=1, max_value=100, required=False, default=10)
    starting_after = serializers.CharField(required=False)
    status = serializers.ChoiceField(choices=[s.value for s in PaymentStatus], required=False)
    currency = CurrencyCodeField(min_length=3, max_length=3, required=False)
    customer_email = serializers.CharField(required=False)
    customer = serializers.CharField(required=False, help_text="A customer (`cus_...`).")
    amount = serializers.IntegerField(min_value=1, required=False)
    created_gte = unix_time_field()
    created_lt = unix_time_field()


class RefundListQuerySerializer(QueryParametersSerializer):
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


class PayByBankSerializer(serializers.Serializer[Any]):
    bank = serializers.CharField()
    bank_payment = serializers.CharField(allow_null=True)
    bank_reference = serializers.CharField(
        allow_null=True, help_text="The bank's DomesticPaymentId once submitted."
    )


class NextActionSerializer(serializers.Serializer[Any]):
    type = serializers.ChoiceField(choices=["redirect_to_url"])
    url = serializers.CharField(help_text="Send the shopper here (the bank's authorization).")


@extend_schema_field({"type": "string", "nullable": True})
class LegacyCardDetailField(serializers.CharField):
    """A field only responses rendered at an older API version carry (the version layer,
    apps.common.api.versioning, adds it): documented, never rendered here."""


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
    card = CardSerializer(
        allow_null=True,
        required=False,
        help_text="Since API version 2026-11-01 (before it: `card_brand` and `card_last4`); "
        "null for a payment without a card.",
    )
    card_brand = LegacyCardDetailField(
        required=False, help_text="API versions before 2026-11-01 only (now `card.brand`)."
    )
    card_last4 = LegacyCardDetailField(
        required=False, help_text="API versions before 2026-11-01 only (now `card.last4`)."
    )
    payment_method_type = serializers.CharField(allow_null=True)
    pay_by_bank = PayByBankSerializer(allow_null=True)
    next_action = NextActionSerializer(allow_null=True)
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
