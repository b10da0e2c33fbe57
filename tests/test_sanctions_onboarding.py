"""Sanctions screening of merchants at onboarding, across apps: the risk app registers its
screener with the merchants app at startup; a listed legal name or beneficial owner is a hit
recorded with its matches in the audit trail, blocks approval, and is shown to staff in the
review queue and on the review page; a clear merchant is approved."""

from datetime import date
from decimal import Decimal

import pytest

from apps.common.errors import StateError
from apps.common.models import AuditEvent
from apps.merchants import services as merchant_services
from apps.merchants.contracts import BeneficialOwnerInput
from apps.merchants.facade import register_sanctions_screener
from apps.merchants.models import Merchant
from apps.merchants.tests.admin_helpers import log_in_staff, make_staff_superuser
from apps.risk.sanctions.services import screen_merchant
from apps.risk.tests.sanctions_helpers import load_fixture_list

pytestmark = pytest.mark.django_db

STAFF = {"actor_type": "admin", "actor_id": "42"}


@pytest.fixture
def sanctions_list():
    return load_fixture_list()


def _apply(*, legal_name="Bottega Rossi S.r.l.", owner="Maria Rossi", email="o@shop.example"):
    return merchant_services.apply_for_merchant_account(
        email=email,
        password="a long enough passphrase",
        legal_name=legal_name,
        trading_name="Bottega",
        country="IT",
        settlement_currency="EUR",
        support_email="help@shop.example",
        beneficial_owners=[
            BeneficialOwnerInput(
                full_name=owner,
                date_of_birth=date(1980, 5, 1),
                nationality="IT",
                ownership_percent=Decimal("100"),
            )
        ],
    )


def _merchant_screenings(merchant_id, stage):
    return AuditEvent.objects.filter(
        action="merchant.sanctions_screened", object_id=merchant_id, metadata__stage=stage
    )


class TestMerchantScreeningAtOnboarding:
    def test_the_risk_app_registers_its_screener_with_the_merchants_app_at_startup(self):
        assert merchant_services._sanctions_screener is screen_merchant

    def test_a_listed_legal_name_is_a_hit_with_its_matches_in_the_audit_trail(self, sanctions_list):
        merchant = _apply(legal_name="Banco Nacional de Cuba, S.A.")
        audit = _merchant_screenings(merchant.public_id, "submission").get()
        assert (audit.metadata["outcome"], audit.metadata["provider"]) == ("hit", "risk.sanctions")
        (match,) = audit.metadata["matches"]
        assert match["screened_role"] == "legal_name"
        assert (match["list_entry_id"], match["listed_name"]) == ("306", "BANCO NACIONAL DE CUBA")
        assert match["score"] == 100.0

    def test_a_hit_blocks_approval(self, sanctions_list):
        merchant = _apply(legal_name="Banco Nacional de Cuba, S.A.")
        merchant_services.start_merchant_review(merchant_id=merchant.public_id, **STAFF)
        with pytest.raises(StateError) as excinfo:
            merchant_services.approve_merchant(merchant_id=merchant.public_id, **STAFF)
        assert excinfo.value.code == "sanctions_hit"
        assert Merchant.objects.get(public_id=merchant.public_id).status == "in_review"
        assert _merchant_screenings(merchant.public_id, "approval").get().metadata["matches"][0][
            "list_entry_id"
        ] == ("306")

    def test_a_listed_beneficial_owner_is_a_hit(self, sanctions_list):
        merchant = _apply(owner="Oleg Deripaska")
        audit = _merchant_screenings(merchant.public_id, "submission").get()
        assert audit.metadata["outcome"] == "hit"
        (match,) = audit.metadata["matches"]
        assert (match["screened_role"], match["screened_name"], match["list_entry_id"]) == (
            "beneficial_owner",
            "Oleg Deripaska",
            "24283",
        )

    def test_a_clear_merchant_is_approved_and_the_clear_result_recorded(self, sanctions_list):
        merchant = _apply()
        merchant_services.start_merchant_review(merchant_id=merchant.public_id, **STAFF)
        merchant_services.approve_merchant(merchant_id=merchant.public_id, **STAFF)
        assert Merchant.objects.get(public_id=merchant.public_id).status == "active"
        audit = _merchant_screenings(merchant.public_id, "approval").get()
        assert audit.metadata["outcome"] == "clear"
        assert audit.metadata["details"]["list_version"] == sanctions_list.version_label
        status_change = AuditEvent.objects.get(
            action="merchant.status_changed", metadata__to="active"
        )
        assert status_change.metadata["sanctions_outcome"] == "clear"

    def test_with_no_list_loaded_the_merchant_is_reported_not_screened(self):
        merchant = _apply()
        audit = _merchant_screenings(merchant.public_id, "submission").get()
        assert (audit.metadata["outcome"], audit.metadata["provider"]) == (
            "not_screened",
            "risk.sanctions",
        )
        assert audit.metadata["details"]["reason"] == "no sanctions list is loaded"

    def test_with_no_screener_registered_the_hook_still_says_not_screened(self, sanctions_list):
        register_sanctions_screener(screener=None)
        try:
            merchant = _apply(legal_name="Banco Nacional de Cuba, S.A.")
        finally:
            register_sanctions_screener(screener=screen_merchant)
        audit = _merchant_screenings(merchant.public_id, "submission").get()
        assert (audit.metadata["outcome"], audit.metadata["provider"]) == ("not_screened", "")


class TestPotentialMatchInTheReviewAdmin:
    def test_staff_see_the_potential_match_in_the_queue_and_on_the_review_page(
        self, client, sanctions_list
    ):
        log_in_staff(client, make_staff_superuser())
        hit = _apply(legal_name="Banco Nacional de Cuba, S.A.", email="a@shop.example")
        clear = _apply(email="b@shop.example")
        queue = client.get("/admin/merchants/merchantapplication/").content.decode()
        assert "POTENTIAL MATCH" in queue
        assert "clear" in queue
        row = Merchant.objects.get(public_id=hit.public_id)
        page = client.get(f"/admin/merchants/merchantapplication/{row.pk}/change/")
        text = page.content.decode()
        assert "POTENTIAL MATCH" in text
        assert "BANCO NACIONAL DE CUBA" in text
        assert "entry 306, score 100.0" in text
        clear_row = Merchant.objects.get(public_id=clear.public_id)
        clear_page = client.get(f"/admin/merchants/merchant/{clear_row.pk}/change/")
        assert "<strong>clear</strong>" in clear_page.content.decode()
