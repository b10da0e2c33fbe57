import re
import sys

import pytest
from django.views.debug import ExceptionReporter
from django.views.decorators.debug import sensitive_variables

from apps.common.errors import NotFoundError
from apps.tokenization import services
from apps.tokenization.brands import CardBrand
from apps.tokenization.crypto import open_card
from apps.tokenization.errors import IncorrectNumberError, InvalidCvcError
from apps.tokenization.facade import tokenize_card
from apps.tokenization.models import CardToken, VaultRecord
from apps.tokenization.selectors import get_active_key_version
from apps.tokenization.tests.conftest import AMEX, CVC_SENTINEL, VISA
from apps.tokenization.tests.factories import make_card_number, next_year
from apps.tokenization.tests.scanning import find_in_database

pytestmark = pytest.mark.django_db


def tokenize(merchant, **overrides):
    card = {"number": VISA, "exp_month": 12, "exp_year": next_year(), "cvc": "123"}
    card.update(overrides)
    return tokenize_card(merchant_id=merchant.public_id, mode="test", **card)


class TestTokenizeCard:
    def test_returns_a_single_use_token_describing_the_card(self, merchant):
        token = tokenize(merchant, cardholder_name="Ada Lovelace")
        assert token.id.startswith("tok_")
        assert token.merchant_id == merchant.public_id
        assert token.card.brand == CardBrand.VISA
        assert token.card.last4 == "4242"
        assert (token.card.exp_month, token.card.exp_year) == (12, next_year())
        assert token.card.funding == "credit"
        assert len(token.card.fingerprint) == 32
        assert token.used is False
        assert 29 * 60 <= (token.expires_at - token.created_at).total_seconds() <= 30 * 60

    def test_the_contract_carries_no_card_number(self, merchant):
        token = tokenize(merchant)
        assert VISA not in repr(token)

    def test_stores_the_number_encrypted_and_decryptable(self, merchant):
        token = tokenize(merchant, number=AMEX, cvc="1234", cardholder_name="Grace Hopper")
        record = CardToken.objects.select_related("record").get(public_id=token.id).record
        assert record.kek_version_id == get_active_key_version()
        opened = open_card(
            record_id=record.record_id,
            kek_version=record.kek_version_id,
            wrapped_data_key=bytes(record.wrapped_data_key),
            nonce=bytes(record.nonce),
            ciphertext=bytes(record.ciphertext),
        )
        assert opened.number == AMEX
        assert opened.cardholder_name == "Grace Hopper"

    def test_writes_no_card_number_or_cvc_to_postgres(self, merchant):
        tokenize(merchant, cvc=None)
        tokenize(merchant, number=AMEX, cvc=CVC_SENTINEL, cardholder_name="Grace Hopper")
        assert find_in_database(needles=[VISA, AMEX, "424242424242", "Grace Hopper"]) == []
        vault_hits = [
            hit
            for hit in find_in_database(needles=[CVC_SENTINEL])
            if hit[0].startswith("tokenization")
        ]
        assert vault_hits == []

    def test_refuses_an_invalid_card_before_storing_anything(self, merchant):
        with pytest.raises(IncorrectNumberError):
            tokenize(merchant, number="4242424242424241")
        with pytest.raises(InvalidCvcError):
            tokenize(merchant, cvc="12")
        assert not VaultRecord.objects.exists()

    def test_refuses_an_unknown_merchant(self):
        with pytest.raises(NotFoundError):
            tokenize_card(
                merchant_id="mch_doesnotexist000000000000",
                mode="test",
                number=VISA,
                exp_month=1,
                exp_year=next_year(),
            )


class TestCardFingerprint:
    def test_the_same_card_has_the_same_fingerprint_for_every_merchant(
        self, merchant, other_merchant
    ):
        first = tokenize(merchant)
        second = tokenize(other_merchant, exp_month=3, cvc=None)
        assert first.card.fingerprint == second.card.fingerprint

    def test_different_cards_have_different_fingerprints(self, merchant):
        fingerprints = {
            tokenize(merchant, number=make_card_number()).card.fingerprint for _ in range(20)
        }
        assert len(fingerprints) == 20

    def test_a_fingerprint_has_no_digits_that_could_look_like_a_card_number(self, merchant):
        assert tokenize(merchant).card.fingerprint.isalpha()


class TestErrorReports:
    def test_a_crash_with_a_card_in_hand_does_not_show_it_in_the_error_report(
        self, merchant, rf, monkeypatch
    ):
        @sensitive_variables()  # like every vault function that touches card data
        def explode(**kwargs):
            raise RuntimeError("boom")

        monkeypatch.setattr(services, "store_cvc", explode)
        try:
            tokenize_card(
                merchant_id=merchant.public_id,
                mode="test",
                number=AMEX,
                exp_month=12,
                exp_year=next_year(),
                cvc=CVC_SENTINEL,
                cardholder_name="Grace Hopper",
            )
        except RuntimeError:
            exc_info = sys.exc_info()
        # What Django's error report (mail, 500 page) shows of every frame's variables.
        frames = ExceptionReporter(rf.post("/v1/payments"), *exc_info).get_traceback_data()[
            "frames"
        ]
        shown = {name: str(value) for frame in frames for name, value in frame["vars"]}
        assert shown["merchant_id"] == repr(merchant.public_id)
        assert shown["number"] == shown["cvc"] == "'********************'"
        # Object reprs carry memory addresses (``at 0x7f95a3739190``) whose hex digits can
        # spell the CVC by chance: they are not card data.
        text = re.sub(r"0x[0-9a-f]+", "0x?", " ".join(shown.values()))
        assert AMEX not in text
        assert CVC_SENTINEL not in text
        assert "Grace Hopper" not in text
