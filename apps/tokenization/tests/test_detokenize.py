import pytest

from apps.common.errors import NotFoundError
from apps.common.models import AuditEvent
from apps.tokenization.errors import (
    MissingDetokenizationReasonError,
    TokenAlreadyUsedError,
    VaultIntegrityError,
)
from apps.tokenization.facade import (
    create_payment_method_from_token,
    detokenize_for_authorization,
    tokenize_card,
)
from apps.tokenization.keys.base import DataKeyUnwrapError
from apps.tokenization.models import CardToken, VaultRecord
from apps.tokenization.tests.conftest import AMEX, VISA
from apps.tokenization.tests.factories import next_year

pytestmark = pytest.mark.django_db


def tokenize(merchant, **overrides):
    card = {"number": VISA, "exp_month": 11, "exp_year": next_year(), "cvc": "123"}
    card.update(overrides)
    return tokenize_card(merchant_id=merchant.public_id, mode="test", **card)


def detokenize(merchant, source_id, **overrides):
    arguments = {
        "token_or_payment_method_id": source_id,
        "merchant_id": merchant.public_id,
        "mode": "test",
        "connector_name": "simulator",
        "reason": "authorization",
        "payment_ref": "pay_test",
    }
    arguments.update(overrides)
    return detokenize_for_authorization(**arguments)


class TestDetokenizeForAuthorization:
    def test_gives_the_connector_the_card_it_tokenized(self, merchant):
        token = tokenize(merchant, number=AMEX, cvc="1234", cardholder_name="Grace Hopper")
        card = detokenize(merchant, token.id)
        assert card.number == AMEX
        assert card.cvc == "1234"
        assert card.cardholder_name == "Grace Hopper"
        assert (card.brand, card.last4, card.exp_month) == ("amex", "0005", 11)

    def test_its_repr_hides_the_number_cvc_and_name(self, merchant):
        card = detokenize(merchant, tokenize(merchant, cardholder_name="Ada").id)
        text = repr(card)
        assert VISA not in text
        assert "123" not in text
        assert "Ada" not in text

    def test_audits_who_detokenized_which_token_and_why(self, merchant):
        token = tokenize(merchant)
        detokenize(merchant, token.id, connector_name="stripe", payment_ref="pay_42")
        event = AuditEvent.objects.get(action="vault.detokenized")
        assert event.actor_type == "system"
        assert event.actor_id == "stripe"
        assert event.object_id == token.id
        assert event.merchant_ref == merchant.public_id
        assert event.metadata == {
            "connector": "stripe",
            "reason": "authorization",
            "payment_ref": "pay_42",
        }

    def test_every_detokenization_of_a_payment_method_is_audited(self, merchant):
        method = create_payment_method_from_token(
            merchant_id=merchant.public_id,
            mode="test",
            token_id=tokenize(merchant).id,
            customer_ref="c1",
        )
        for _ in range(3):
            assert detokenize(merchant, method.id).number == VISA
        assert (
            AuditEvent.objects.filter(action="vault.detokenized", object_id=method.id).count() == 3
        )

    def test_consumes_a_token(self, merchant):
        token = tokenize(merchant)
        detokenize(merchant, token.id)
        with pytest.raises(TokenAlreadyUsedError):
            detokenize(merchant, token.id)
        assert CardToken.objects.get(public_id=token.id).used_for == "authorization"

    def test_the_cvc_is_given_once(self, merchant):
        method = create_payment_method_from_token(
            merchant_id=merchant.public_id,
            mode="test",
            token_id=tokenize(merchant).id,
            customer_ref="c1",
        )
        assert detokenize(merchant, method.id).cvc == "123"
        assert detokenize(merchant, method.id).cvc is None

    def test_another_merchants_token_or_payment_method_is_not_found(self, merchant, other_merchant):
        token = tokenize(merchant)
        method = create_payment_method_from_token(
            merchant_id=merchant.public_id,
            mode="test",
            token_id=tokenize(merchant).id,
            customer_ref="c1",
        )
        for source_id in (token.id, method.id, "pm_unknown", "nonsense"):
            with pytest.raises(NotFoundError):
                detokenize(other_merchant, source_id)
        assert not AuditEvent.objects.filter(action="vault.detokenized").exists()
        assert detokenize(merchant, token.id).number == VISA

    def test_needs_a_connector_a_reason_and_a_payment(self, merchant):
        token = tokenize(merchant)
        with pytest.raises(MissingDetokenizationReasonError):
            detokenize(merchant, token.id, reason="")


class TestCiphertextIsBoundToItsRow:
    def _records(self, merchant):
        first = tokenize(merchant, number=VISA)
        second = tokenize(merchant, number=AMEX, cvc="1234")
        records = {t.public_id: t.record for t in CardToken.objects.select_related("record").all()}
        return first, second, records[first.id], records[second.id]

    def test_a_ciphertext_moved_to_another_row_does_not_decrypt(self, merchant):
        first, _, first_record, second_record = self._records(merchant)
        # Move the whole envelope of the second card into the first card's row.
        VaultRecord.objects.filter(pk=first_record.pk).update(
            wrapped_data_key=second_record.wrapped_data_key,
            nonce=second_record.nonce,
            ciphertext=second_record.ciphertext,
        )
        with pytest.raises(DataKeyUnwrapError):
            detokenize(merchant, first.id)

    def test_a_pan_ciphertext_moved_under_another_rows_key_does_not_decrypt(self, merchant):
        first, _, first_record, second_record = self._records(merchant)
        VaultRecord.objects.filter(pk=first_record.pk).update(
            nonce=second_record.nonce, ciphertext=second_record.ciphertext
        )
        with pytest.raises(VaultIntegrityError):
            detokenize(merchant, first.id)
