"""Shapes of the token API. Card fields are only type-checked here: the vault's own
validation (apps.tokenization.validation) gives the precise card error codes."""

from __future__ import annotations

from rest_framework import serializers

from apps.common.api.schema import JSONBodySerializer


class CardInputSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=40, trim_whitespace=True)
    exp_month = serializers.CharField(max_length=4)
    exp_year = serializers.CharField(max_length=6)
    cvc = serializers.CharField(max_length=8, required=False, allow_blank=False)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)


class CreateTokenSerializer(JSONBodySerializer):
    """Strict about keys (a `cvv` for `cvc` is 400 `parameter_unknown`, never a token made
    without its CVC), lenient about types: card forms send `exp_month` as `12` or `"12"`."""

    check_json_types = False
    card = CardInputSerializer()


class CardSerializer(serializers.Serializer):
    brand = serializers.CharField()
    last4 = serializers.CharField()
    exp_month = serializers.IntegerField()
    exp_year = serializers.IntegerField()
    funding = serializers.CharField()
    fingerprint = serializers.CharField(
        help_text="Identifies the card number across merchants without revealing it."
    )


class TokenSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="A single-use token (`tok_...`).")
    object = serializers.CharField(default="token")
    type = serializers.CharField(default="card")
    card = CardSerializer()
    created = serializers.IntegerField()
    expires_at = serializers.IntegerField()
    livemode = serializers.BooleanField()
    used = serializers.BooleanField()
