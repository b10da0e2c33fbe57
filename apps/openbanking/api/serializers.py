"""Input validation and documented output shapes of the Open Banking API."""

from __future__ import annotations

from rest_framework import serializers

from apps.common.api.schema import JSONBodySerializer
from apps.openbanking.services import ACCOUNT_PERMISSIONS

PERMISSIONS = (*ACCOUNT_PERMISSIONS, "ReadAccountsBasic", "ReadTransactionsBasic")


class ConsentCreateSerializer(JSONBodySerializer):
    bank = serializers.CharField(
        max_length=40, help_text="A bank code from /v1/open-banking/banks."
    )
    return_url = serializers.URLField(
        max_length=2000, help_text="Where the customer is sent after the bank."
    )
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=PERMISSIONS),
        required=False,
        allow_empty=False,
        help_text="OBIE permissions; default: accounts, balances and transactions in detail.",
    )
    expires_at = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=253402300799,  # 9999-12-31T23:59:59Z: later is no datetime, so a 400
        help_text="Unix time when the consent expires.",
    )


class CreditorSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=140)
    sort_code = serializers.RegexField(r"^\d{6}$", help_text="6 digits, no dashes.")
    account_number = serializers.RegexField(r"^\d{8}$", help_text="8 digits.")


class BankPaymentCreateSerializer(JSONBodySerializer):
    bank = serializers.CharField(max_length=40)
    amount = serializers.IntegerField(min_value=1, help_text="In minor units (pence).")
    currency = serializers.ChoiceField(choices=["gbp", "GBP"])
    creditor = CreditorSerializer(help_text="The account paid into (yours).")
    reference = serializers.CharField(max_length=18, help_text="Shown on the payer's statement.")
    return_url = serializers.URLField(max_length=2000)
    metadata = serializers.DictField(child=serializers.CharField(max_length=500), required=False)

    def validate_metadata(self, value: dict[str, str]) -> dict[str, str]:
        if any("\x00" in key for key in value):  # jsonb cannot hold it: a 400, not a 500
            raise serializers.ValidationError("Metadata keys may not contain null characters.")
        return value


class ConsentSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="obc_...")
    object = serializers.CharField(default="open_banking_consent")
    bank = serializers.CharField()
    kind = serializers.ChoiceField(choices=["account_access", "domestic_payment"])
    status = serializers.ChoiceField(
        choices=[
            "creating",
            "awaiting_authorisation",
            "authorised",
            "consumed",
            "rejected",
            "revoked",
            "expired",
            "failed",
        ]
    )
    permissions = serializers.ListField(child=serializers.CharField())
    authorization_url = serializers.CharField(
        allow_null=True, help_text="Send the customer here while awaiting_authorisation."
    )
    return_url = serializers.CharField()
    expires_at = serializers.IntegerField(allow_null=True)
    created = serializers.IntegerField()


class ConsentListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data = ConsentSerializer(many=True)  # type: ignore[assignment]


class BankPaymentSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="obp_...")
    object = serializers.CharField(default="bank_payment")
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["requires_action", "submitting", "unknown", "pending", "succeeded", "failed"]
    )
    bank = serializers.CharField()
    consent = serializers.CharField()
    reference = serializers.CharField()
    authorization_url = serializers.CharField(allow_null=True)
    return_url = serializers.CharField()
    bank_reference = serializers.CharField(allow_null=True)
    bank_status = serializers.CharField(allow_null=True)
    failure_code = serializers.CharField(allow_null=True)
    metadata = serializers.DictField()
    created = serializers.IntegerField()


class BankPaymentListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data = BankPaymentSerializer(many=True)  # type: ignore[assignment]


class BankAccountSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The bank's account id.")
    object = serializers.CharField(default="bank_account")
    currency = serializers.CharField()
    scheme_name = serializers.CharField()
    identification = serializers.CharField()
    holder_name = serializers.CharField()
    nickname = serializers.CharField()


class BankAccountListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data = BankAccountSerializer(many=True)  # type: ignore[assignment]


class BankBalanceSerializer(serializers.Serializer):
    object = serializers.CharField(default="bank_balance")
    amount = serializers.IntegerField(help_text="Minor units; negative when overdrawn.")
    currency = serializers.CharField()
    type = serializers.CharField(help_text="The OBIE balance type (ITAV, CLBD ...).")
    as_of = serializers.IntegerField()


class BankBalanceListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data = BankBalanceSerializer(many=True)  # type: ignore[assignment]


class BankTransactionSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(default="bank_transaction")
    amount = serializers.IntegerField(help_text="Minor units; negative for debits.")
    currency = serializers.CharField()
    status = serializers.CharField(help_text="BOOK, PDNG ...")
    booked = serializers.IntegerField()
    description = serializers.CharField()
    reference = serializers.CharField()


class BankTransactionListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data = BankTransactionSerializer(many=True)  # type: ignore[assignment]


class BankSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(default="bank")
    name = serializers.CharField()


class BankListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data = BankSerializer(many=True)  # type: ignore[assignment]
