from datetime import timedelta

import pytest
from django.conf import settings

from apps.common.clock import get_now
from apps.common.errors import NotFoundError
from apps.common.models import AuditEvent
from apps.tokenization.errors import (
    InvalidCustomerReferenceError,
    TokenAlreadyUsedError,
    TokenExpiredError,
)
from apps.tokenization.facade import (
    create_payment_method_from_token,
    delete_payment_method,
    detokenize_for_authorization,
    get_payment_method,
    get_token,
    list_payment_methods,
    tokenize_card,
)
from apps.tokenization.models import VaultRecord
from apps.tokenization.services import shred_expired_tokens
from apps.tokenization.tests.conftest import VISA
from apps.tokenization.tests.factories import next_year

pytestmark = pytest.mark.django_db


def tokenize(merchant, **overrides):
    card = {"number": VISA, "exp_month": 12, "exp_year": next_year(), "cvc": "123"}
    card.update(overrides)
    return tokenize_card(merchant_id=merchant.public_id, mode="test", **card)


def save(merchant, token_id, customer_ref="cus_ada"):
    return create_payment_method_from_token(
        merchant_id=merchant.public_id, mode="test", token_id=token_id, customer_ref=customer_ref
    )


class TestCreatePaymentMethodFromToken:
    def test_saves_the_card_for_the_customer(self, merchant):
        token = tokenize(merchant)
        method = save(merchant, token.id)
        assert method.id.startswith("pm_")
        assert method.customer_ref == "cus_ada"
        assert method.card == token.card
        assert (
            get_token(merchant_id=merchant.public_id, mode="test", token_id=token.id).used is True
        )

    def test_a_token_is_refused_the_second_time(self, merchant):
        token = tokenize(merchant)
        save(merchant, token.id)
        with pytest.raises(TokenAlreadyUsedError) as caught:
            save(merchant, token.id)
        assert caught.value.code == "token_already_used"

    def test_an_expired_token_is_refused(self, merchant):
        token = tokenize_card(
            merchant_id=merchant.public_id,
            mode="test",
            number=VISA,
            exp_month=12,
            exp_year=next_year(),
            now=get_now() - timedelta(minutes=31),
        )
        with pytest.raises(TokenExpiredError) as caught:
            save(merchant, token.id)
        assert caught.value.code == "token_expired"

    def test_another_merchants_token_is_not_found(self, merchant, other_merchant):
        token = tokenize(merchant)
        with pytest.raises(NotFoundError) as caught:
            save(other_merchant, token.id)
        assert caught.value.code == "resource_missing"
        save(merchant, token.id)

    @pytest.mark.parametrize("customer_ref", ["", "   ", "x" * 201, "card 4242424242424242"])
    def test_refuses_a_bad_customer_reference(self, merchant, customer_ref):
        with pytest.raises(InvalidCustomerReferenceError):
            save(merchant, tokenize(merchant).id, customer_ref=customer_ref)

    def test_only_one_of_concurrent_uses_wins(self, merchant):
        # The token row is locked: a second use in the same transaction sees it used.
        token = tokenize(merchant)
        save(merchant, token.id)
        with pytest.raises(TokenAlreadyUsedError):
            detokenize_for_authorization(
                token_or_payment_method_id=token.id,
                merchant_id=merchant.public_id,
                mode="test",
                connector_name="simulator",
                reason="authorization",
                payment_ref="pay_1",
            )


class TestGetPaymentMethod:
    def test_finds_the_merchants_own_payment_method(self, merchant):
        method = save(merchant, tokenize(merchant).id)
        assert (
            get_payment_method(
                merchant_id=merchant.public_id, mode="test", payment_method_id=method.id
            )
            == method
        )

    def test_another_merchants_id_is_not_found(self, merchant, other_merchant):
        method = save(merchant, tokenize(merchant).id)
        with pytest.raises(NotFoundError):
            get_payment_method(
                merchant_id=other_merchant.public_id, mode="test", payment_method_id=method.id
            )

    def test_lists_a_customers_payment_methods(self, merchant, other_merchant):
        first = save(merchant, tokenize(merchant).id)
        second = save(merchant, tokenize(merchant, number="5555555555554444").id)
        save(merchant, tokenize(merchant).id, customer_ref="cus_other")
        save(other_merchant, tokenize(other_merchant).id)
        listed = list_payment_methods(
            merchant_id=merchant.public_id, mode="test", customer_ref="cus_ada"
        )
        assert [m.id for m in listed] == [first.id, second.id]


class TestDeletePaymentMethod:
    def test_crypto_shreds_the_card_and_keeps_its_metadata(self, merchant, redis_client):
        method = save(merchant, tokenize(merchant).id)
        delete_payment_method(
            merchant_id=merchant.public_id, mode="test", payment_method_id=method.id
        )
        record = VaultRecord.objects.get(payment_method__public_id=method.id)
        assert record.shredded_at is not None
        assert record.wrapped_data_key is None
        assert record.ciphertext is None
        assert record.kek_version is None
        assert (record.brand, record.last4, record.fingerprint) == (
            "visa",
            "4242",
            method.card.fingerprint,
        )
        assert redis_client.keys(f"{settings.VAULT_CVC_KEY_PREFIX}*") == []
        assert AuditEvent.objects.filter(action="vault.payment_method_deleted").count() == 1

    def test_a_deleted_payment_method_is_gone(self, merchant):
        method = save(merchant, tokenize(merchant).id)
        delete_payment_method(
            merchant_id=merchant.public_id, mode="test", payment_method_id=method.id
        )
        with pytest.raises(NotFoundError):
            get_payment_method(
                merchant_id=merchant.public_id, mode="test", payment_method_id=method.id
            )
        with pytest.raises(NotFoundError):
            detokenize_for_authorization(
                token_or_payment_method_id=method.id,
                merchant_id=merchant.public_id,
                mode="test",
                connector_name="simulator",
                reason="authorization",
                payment_ref="pay_1",
            )
        with pytest.raises(NotFoundError):
            delete_payment_method(
                merchant_id=merchant.public_id, mode="test", payment_method_id=method.id
            )

    def test_another_merchant_cannot_delete_it(self, merchant, other_merchant):
        method = save(merchant, tokenize(merchant).id)
        with pytest.raises(NotFoundError):
            delete_payment_method(
                merchant_id=other_merchant.public_id, mode="test", payment_method_id=method.id
            )
        assert get_payment_method(
            merchant_id=merchant.public_id, mode="test", payment_method_id=method.id
        )


class TestShredExpiredTokens:
    def test_shreds_cards_whose_token_expired_unused_and_nothing_else(self, merchant):
        expired = tokenize_card(
            merchant_id=merchant.public_id,
            mode="test",
            number=VISA,
            exp_month=12,
            exp_year=next_year(),
            now=get_now() - timedelta(hours=1),
        )
        fresh = tokenize(merchant)
        saved = save(merchant, tokenize(merchant).id)
        assert shred_expired_tokens() == 1
        shredded = VaultRecord.objects.filter(shredded_at__isnull=False).get()
        assert shredded.tokens.get().public_id == expired.id
        assert (
            get_token(merchant_id=merchant.public_id, mode="test", token_id=fresh.id).used is False
        )
        assert get_payment_method(
            merchant_id=merchant.public_id, mode="test", payment_method_id=saved.id
        )


class TestGetToken:
    def test_another_merchants_token_is_not_found(self, merchant, other_merchant):
        token = tokenize(merchant)
        assert get_token(merchant_id=merchant.public_id, mode="test", token_id=token.id) == token
        with pytest.raises(NotFoundError):
            get_token(merchant_id=other_merchant.public_id, mode="test", token_id=token.id)


class TestModes:
    """A token and a payment method belong to the mode of the key that made them; in the other
    mode they are unknown (404), as another merchant's are, and nothing about them changes."""

    def test_a_token_is_unknown_in_the_other_mode(self, merchant):
        token = tokenize_card(
            merchant_id=merchant.public_id,
            mode="live",
            number=VISA,
            exp_month=12,
            exp_year=next_year(),
        )
        assert token.mode == "live"
        with pytest.raises(NotFoundError):
            get_token(merchant_id=merchant.public_id, mode="test", token_id=token.id)
        with pytest.raises(NotFoundError):
            save(merchant, token.id)  # a test-mode save
        assert get_token(merchant_id=merchant.public_id, mode="live", token_id=token.id).used is (
            False
        )

    def test_a_payment_method_takes_its_tokens_mode_and_is_unknown_in_the_other(self, merchant):
        token = tokenize(merchant)
        method = save(merchant, token.id)
        assert method.mode == "test"
        live = {"merchant_id": merchant.public_id, "mode": "live"}
        with pytest.raises(NotFoundError):
            get_payment_method(**live, payment_method_id=method.id)
        assert list_payment_methods(**live, customer_ref="cus_ada") == []
        with pytest.raises(NotFoundError):
            delete_payment_method(**live, payment_method_id=method.id)
        with pytest.raises(NotFoundError):
            detokenize_for_authorization(
                **live,
                token_or_payment_method_id=method.id,
                connector_name="simulator",
                reason="authorization",
                payment_ref="pay_1",
            )
        assert VaultRecord.objects.get(payment_method__public_id=method.id).ciphertext

    def test_a_mode_that_is_neither_test_nor_live_is_a_programming_error(self, merchant):
        with pytest.raises(ValueError, match="mode"):
            tokenize_card(
                merchant_id=merchant.public_id,
                mode="",
                number=VISA,
                exp_month=12,
                exp_year=next_year(),
            )
