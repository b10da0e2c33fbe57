from __future__ import annotations

from django.core.validators import RegexValidator
from rest_framework import serializers

from apps.common.api.schema import CurrencyCodeField, QueryParametersSerializer
from apps.ledger.selectors import MAX_PAGE_SIZE

# The last second of 9999-12-31: later times cannot be dates (a 400, not a 500).
MAX_UNIX_TIME = 253402300799

TRANSACTION_TYPES = [
    "capture",
    "refund",
    "refund_failed",
    "dispute_opened",
    "dispute_won",
    "dispute_lost",
    "settlement",
    "payout",
    "payout_failed",
    "reserve_hold",
    "reserve_release",
]
BALANCE_TYPES = ["pending", "available", "reserve"]


class AmountSerializer(serializers.Serializer):
    amount = serializers.IntegerField(help_text="Signed amount in minor units.")
    currency = serializers.CharField(help_text="ISO 4217, upper case.")


class BalanceSerializer(serializers.Serializer):
    """The merchant's balances in the calling key's mode, one amount per currency."""

    object = serializers.CharField(default="balance")
    livemode = serializers.BooleanField()
    available = AmountSerializer(many=True, help_text="Funds that can be paid out.")
    pending = AmountSerializer(
        many=True, help_text="Captured funds not yet available (see `available_on`)."
    )
    reserve = AmountSerializer(many=True, help_text="Funds held back as a reserve.")


class BalanceTransactionSourceSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="payment, refund, dispute, payout, reserve, ...")
    id = serializers.CharField(allow_blank=True)


class BalanceTransactionSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The balance transaction's id (`txn_...`).")
    object = serializers.CharField(default="balance_transaction")
    amount = serializers.IntegerField(help_text="Signed amount in minor units.")
    currency = serializers.CharField()
    balance_type = serializers.ChoiceField(choices=BALANCE_TYPES)
    type = serializers.CharField(help_text="The posting rule: capture, refund, payout, ...")
    source = BalanceTransactionSourceSerializer()  # type: ignore[assignment]
    event = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    journal_entry = serializers.CharField(help_text="The journal entry (`je_...`).")
    created = serializers.IntegerField(help_text="Unix time the movement took effect.")
    available_on = serializers.DateField(
        allow_null=True, help_text="For pending funds: the day they become available."
    )


class BalanceTransactionListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    url = serializers.CharField()
    has_more = serializers.BooleanField()
    data = BalanceTransactionSerializer(many=True)  # type: ignore[assignment]


class BalanceTransactionQuerySerializer(QueryParametersSerializer):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, default=10)
    starting_after = serializers.CharField(
        required=False, max_length=40, help_text="Id of the last transaction of the prior page."
    )
    currency = CurrencyCodeField(
        validators=[RegexValidator(r"^[A-Za-z]{3}$")],
        required=False,
        help_text="ISO 4217 currency code.",
    )
    type = serializers.ChoiceField(choices=TRANSACTION_TYPES, required=False)
    balance_type = serializers.ChoiceField(choices=BALANCE_TYPES, required=False)
    source = serializers.CharField(  # type: ignore[assignment]
        required=False, max_length=120, help_text="A source id."
    )
    created_gte = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_UNIX_TIME, help_text="Unix time."
    )
    created_lt = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_UNIX_TIME, help_text="Unix time."
    )
