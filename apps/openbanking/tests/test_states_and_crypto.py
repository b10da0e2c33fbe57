"""The consent and bank payment lifecycles (pure tables) and tokens sealed at rest."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag

from apps.common.errors import StateError
from apps.openbanking.crypto import open_secret, seal_secret
from apps.openbanking.states import (
    bank_payment_status_from_obie,
    check_bank_payment_transition,
    check_consent_transition,
)


class TestConsentLifecycle:
    @pytest.mark.parametrize(
        ("current", "new"),
        [
            ("creating", "awaiting_authorisation"),
            ("awaiting_authorisation", "authorised"),
            ("awaiting_authorisation", "rejected"),
            ("authorised", "consumed"),
            ("authorised", "revoked"),
            ("authorised", "expired"),
        ],
    )
    def test_the_obie_lifecycle_moves_are_allowed(self, current, new):
        check_consent_transition(current=current, new=new)

    @pytest.mark.parametrize(
        ("current", "new"),
        [
            ("revoked", "authorised"),
            ("expired", "authorised"),
            ("consumed", "authorised"),
            ("rejected", "authorised"),
            ("creating", "authorised"),
        ],
    )
    def test_a_finished_consent_never_becomes_usable_again(self, current, new):
        with pytest.raises(StateError):
            check_consent_transition(current=current, new=new)


class TestBankPaymentLifecycle:
    def test_an_unknown_payment_is_resolved_never_resubmitted(self):
        check_bank_payment_transition(current="unknown", new="succeeded")
        with pytest.raises(StateError):
            check_bank_payment_transition(current="unknown", new="submitting")

    @pytest.mark.parametrize(
        ("code", "status"),
        [("PDNG", "pending"), ("ACSP", "pending"), ("ACSC", "succeeded"), ("RJCT", "failed")],
    )
    def test_bank_status_codes_map_to_our_statuses(self, code, status):
        assert bank_payment_status_from_obie(code) == status


class TestSealedTokens:
    def test_a_sealed_token_opens_only_for_its_own_row_and_field(self):
        sealed = seal_secret(secret="access-token-1", field="access_token", owner_id="obc_1")
        assert b"access-token-1" not in sealed
        assert open_secret(sealed=sealed, field="access_token", owner_id="obc_1") == (
            "access-token-1"
        )
        with pytest.raises(InvalidTag):
            open_secret(sealed=sealed, field="access_token", owner_id="obc_2")
        with pytest.raises(InvalidTag):
            open_secret(sealed=sealed, field="refresh_token", owner_id="obc_1")

    def test_a_configured_key_must_be_32_bytes(self, settings):
        from django.core.exceptions import ImproperlyConfigured

        settings.OPENBANKING_TOKEN_KEY = "c2hvcnQ="
        with pytest.raises(ImproperlyConfigured):
            seal_secret(secret="x", field="access_token", owner_id="obc_1")
