import time

import pytest
from django.conf import settings
from django.test import override_settings

from apps.tokenization.facade import (
    create_payment_method_from_token,
    detokenize_for_authorization,
    tokenize_card,
)
from apps.tokenization.tests.conftest import AMEX, CVC_SENTINEL, VISA
from apps.tokenization.tests.factories import next_year

pytestmark = pytest.mark.django_db


def tokenize(merchant, **overrides):
    card = {"number": VISA, "exp_month": 12, "exp_year": next_year(), "cvc": "123"}
    card.update(overrides)
    return tokenize_card(merchant_id=merchant.public_id, mode="test", **card)


def detokenize(merchant, source_id):
    return detokenize_for_authorization(
        token_or_payment_method_id=source_id,
        merchant_id=merchant.public_id,
        mode="test",
        connector_name="simulator",
        reason="authorization",
        payment_ref="pay_1",
    )


def cvc_keys(redis_client):
    return redis_client.keys(f"{settings.VAULT_CVC_KEY_PREFIX}*")


class TestCvcStorage:
    def test_lives_in_redis_sealed_with_a_ttl_of_at_most_ten_minutes(self, merchant, redis_client):
        tokenize(merchant, number=AMEX, cvc=CVC_SENTINEL)
        (key,) = cvc_keys(redis_client)
        assert 0 < redis_client.ttl(key) <= 600
        value = redis_client.get(key)
        assert CVC_SENTINEL.encode() not in value
        assert CVC_SENTINEL.encode() not in key

    def test_is_gone_from_redis_once_taken(self, merchant, redis_client):
        token = tokenize(merchant)
        assert detokenize(merchant, token.id).cvc == "123"
        assert cvc_keys(redis_client) == []

    def test_is_gone_after_its_ttl(self, merchant, redis_client):
        with override_settings(VAULT_CVC_TTL_SECONDS=1):
            method = create_payment_method_from_token(
                merchant_id=merchant.public_id,
                mode="test",
                token_id=tokenize(merchant).id,
                customer_ref="c1",
            )
        time.sleep(1.3)
        assert cvc_keys(redis_client) == []
        card = detokenize(merchant, method.id)
        assert card.number == VISA
        assert card.cvc is None

    def test_no_cvc_no_key(self, merchant, redis_client):
        tokenize(merchant, cvc=None)
        assert cvc_keys(redis_client) == []

    def test_redis_never_holds_the_card_number(self, merchant, redis_client):
        tokenize(merchant)
        for key in redis_client.keys("*"):
            assert VISA.encode() not in key
            value = redis_client.dump(key) or b""
            assert VISA.encode() not in value


class TestAnUnreachableCvcStore:
    def test_never_blocks_a_saved_card_from_being_deleted(self, merchant, monkeypatch):
        from redis.exceptions import ConnectionError as RedisConnectionError

        from apps.tokenization import cvc
        from apps.tokenization.facade import delete_payment_method, get_payment_method

        token = tokenize(merchant)
        saved = create_payment_method_from_token(
            merchant_id=merchant.public_id, mode="test", token_id=token.id, customer_ref="cus_1"
        )

        class DownRedis:
            def delete(self, *keys):
                raise RedisConnectionError("Connection refused")

        monkeypatch.setattr(cvc, "get_cvc_redis", lambda: DownRedis())
        delete_payment_method(
            merchant_id=merchant.public_id, mode="test", payment_method_id=saved.id
        )

        from apps.common.errors import NotFoundError

        with pytest.raises(NotFoundError):
            get_payment_method(
                merchant_id=merchant.public_id, mode="test", payment_method_id=saved.id
            )
