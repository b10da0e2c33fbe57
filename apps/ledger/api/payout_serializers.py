from __future__ import annotations

from typing import Any

from django.core.validators import MinValueValidator, RegexValidator
from rest_framework import serializers

from apps.common.api.schema import CurrencyCodeField, JSONBodySerializer, QueryParametersSerializer
from apps.ledger.api.serializers import MAX_UNIX_TIME
from apps.ledger.models import PayoutStatus
from apps.ledger.payout_selectors import MAX_PAGE_SIZE


class AmountTooSmallValidator(MinValueValidator):
    """`minimum` in the schema, 400 `amount_too_small` for the client."""

    message = "amount must be at least %(limit_value)s."
    code = "amount_too_small"


class PayoutDestinationSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(help_text="The merchant's payout bank account (`ba_...`).")
    last4 = serializers.CharField(help_text="The last four characters of its number.")


class PayoutSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(help_text="The payout's id (`po_...`).")
    object = serializers.CharField(default="payout")
    amount = serializers.IntegerField(help_text="Minor units, always positive.")
    currency = serializers.CharField(help_text="ISO 4217, lower case.")
    status = serializers.ChoiceField(
        choices=PayoutStatus.values,
        help_text="`pending` (sent to the bank, answer awaited), `in_transit`, `paid`, or "
        "`failed` (the funds are back in the available balance; see `failure_code`).",
    )
    method = serializers.CharField(
        help_text="`automatic`: made by the payout schedule; `manual`: asked for.",
    )
    payout_date = serializers.DateField(help_text="The payout day it was made for.")
    arrival_date = serializers.DateField(
        allow_null=True, help_text="When the bank expects the funds to arrive."
    )
    description = serializers.CharField(allow_blank=True)
    destination = PayoutDestinationSerializer()
    failure_code = serializers.CharField(
        allow_null=True,
        help_text="Why it failed: `account_closed`, `invalid_account_number`, "
        "`payout_account_changed`, ...",
    )
    failure_message = serializers.CharField(allow_null=True)
    reconciles_balance = serializers.BooleanField(
        help_text="True when it paid out the whole available balance: its balance "
        "transactions (`GET /v1/balance_transactions`) sum to its amount."
    )
    livemode = serializers.BooleanField()
    created = serializers.IntegerField(help_text="Unix time.")


class PayoutListSerializer(serializers.Serializer[Any]):
    object = serializers.CharField(default="list")
    url = serializers.CharField()
    has_more = serializers.BooleanField()
    data = PayoutSerializer(many=True)  # type: ignore[assignment]


class PayoutListQuerySerializer(QueryParametersSerializer):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, default=10)
    starting_after = serializers.CharField(
        required=False, max_length=40, help_text="Id of the last payout of the prior page."
    )
    status = serializers.ChoiceField(choices=PayoutStatus.values, required=False)
    created_gte = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_UNIX_TIME, help_text="Unix time."
    )
    created_lt = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_UNIX_TIME, help_text="Unix time."
    )


class PayoutCreateSerializer(JSONBodySerializer):
    amount = serializers.IntegerField(
        max_value=10**15,
        validators=[AmountTooSmallValidator(1)],
        required=False,
        help_text="Minor units, at least 1 (else 400 `amount_too_small`); default: the whole "
        "available balance.",
    )
    currency = CurrencyCodeField(
        validators=[RegexValidator(r"^[A-Za-z]{3}$")],
        required=False,
        help_text="ISO 4217; default: the payout schedule's currency.",
    )
    description = serializers.CharField(
        required=False, default="", allow_blank=True, max_length=200
    )
