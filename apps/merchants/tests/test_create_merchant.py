from typing import Any

import pytest
from django.db import IntegrityError, transaction

from apps.common.audit import verify_audit_chain
from apps.common.errors import InvalidRequestError
from apps.common.models import AuditEvent
from apps.merchants.errors import MerchantNotFoundError
from apps.merchants.facade import get_merchant
from apps.merchants.services import create_merchant
from apps.merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


def _create(**overrides):
    data: dict[str, Any] = {
        "legal_name": "Bottega Rossi S.r.l.",
        "trading_name": "Bottega Rossi",
        "country": "it",
        "settlement_currency": "eur",
        "support_email": "help@bottega.example",
    }
    data.update(overrides)
    return create_merchant(**data)


class TestCreateMerchant:
    def test_creates_an_applied_merchant_with_a_public_id(self):
        merchant = _create()
        assert merchant.public_id.startswith("mch_")
        assert (merchant.status, merchant.country, merchant.settlement_currency) == (
            "applied",
            "IT",
            "EUR",
        )
        assert get_merchant(merchant_id=merchant.public_id) == merchant

    def test_records_the_creation_in_the_audit_trail(self):
        merchant = _create()
        entry = AuditEvent.objects.get(action="merchant.created")
        assert (entry.object_id, entry.merchant_ref) == (merchant.public_id, merchant.public_id)
        assert verify_audit_chain().ok

    @pytest.mark.parametrize(
        ("field", "value", "param"),
        [
            ("country", "Italy", "country"),
            ("settlement_currency", "EURO", "currency"),
            ("legal_name", "  ", "legal_name"),
            ("trading_name", "Shop\u202egnp.exe", "trading_name"),  # right-to-left override
            ("legal_name", "Bottega\x00 S.r.l.", "legal_name"),
        ],
    )
    def test_refuses_bad_data_and_changes_nothing(self, field, value, param):
        with pytest.raises(InvalidRequestError) as excinfo:
            _create(**{field: value})
        assert getattr(excinfo.value, "param", None) == param
        assert not AuditEvent.objects.exists()


class TestMerchantConstraints:
    def test_the_database_refuses_an_unknown_status(self):
        with pytest.raises(IntegrityError), transaction.atomic():
            MerchantFactory(status="bogus")

    def test_the_database_refuses_a_lower_case_country(self):
        with pytest.raises(IntegrityError), transaction.atomic():
            MerchantFactory(country="it")


class TestGetMerchant:
    def test_unknown_ids_are_not_found(self):
        with pytest.raises(MerchantNotFoundError):
            get_merchant(merchant_id="mch_doesnotexist000000000000")


class TestBeneficialOwners:
    def test_owners_together_never_hold_more_than_everything(self):
        from datetime import date
        from decimal import Decimal

        from apps.merchants.contracts import BeneficialOwnerInput

        def owner(name: str, percent: str) -> BeneficialOwnerInput:
            return BeneficialOwnerInput(
                full_name=name,
                date_of_birth=date(1980, 1, 1),
                nationality="IT",
                ownership_percent=Decimal(percent),
            )

        with pytest.raises(InvalidRequestError) as refused:
            _create(beneficial_owners=[owner("Ada", "60"), owner("Bea", "40.01")])
        assert refused.value.param == "owner_ownership_percent"
        merchant = _create(beneficial_owners=[owner("Ada", "60"), owner("Bea", "40")])
        assert merchant.public_id
