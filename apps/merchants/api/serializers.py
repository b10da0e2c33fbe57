from __future__ import annotations

from rest_framework import serializers


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
    created = serializers.IntegerField(help_text="Unix time the merchant was created.")
