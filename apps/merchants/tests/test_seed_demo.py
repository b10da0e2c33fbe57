import json

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from apps.merchants.api_keys import authenticate_api_key
from apps.merchants.models import Merchant, MerchantMembership, PriceListEntry
from apps.merchants.pricing import set_price

pytestmark = pytest.mark.django_db


class TestSeedDemo:
    def test_creates_a_superuser_and_an_active_demo_merchant_with_working_logins(
        self, tmp_path, capsys
    ):
        credentials = tmp_path / "demo.json"
        call_command("seed_demo", credentials_file=str(credentials))
        output = capsys.readouterr().out
        logins = json.loads(credentials.read_text())
        assert logins["admin_password"] in output
        assert logins["merchant_password"] in output
        assert oct(credentials.stat().st_mode & 0o777) == "0o600"

        admin = User.objects.get(username="admin")
        assert admin.check_password(logins["admin_password"])
        assert admin.is_superuser
        owner = User.objects.get(username=logins["merchant_username"])
        assert owner.check_password(logins["merchant_password"])
        merchant = Merchant.objects.get(public_id=logins["merchant_id"])
        assert merchant.status == "active"
        assert MerchantMembership.objects.get(merchant=merchant, user=owner).role == "owner"
        assert logins["test_secret_key"] in output
        assert (
            authenticate_api_key(raw_key=logins["test_secret_key"]).merchant_id
            == merchant.public_id
        )
        assert (
            authenticate_api_key(raw_key=logins["test_publishable_key"]).key_type == "publishable"
        )

    def test_the_demo_merchant_takes_a_card_payment_in_its_currency_at_once(self, tmp_path, client):
        credentials = tmp_path / "demo.json"
        call_command("seed_demo", credentials_file=str(credentials))
        key = json.loads(credentials.read_text())["test_secret_key"]
        headers = {"Authorization": f"Bearer {key}"}
        card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}
        token = client.post(
            "/v1/tokens", {"card": card}, content_type="application/json", headers=headers
        )
        assert token.status_code == 201, token.content

        payment = client.post(
            "/v1/payments",
            {
                "amount": 1999,
                "currency": "eur",
                "payment_method": token.json()["id"],
                "confirm": True,
            },
            content_type="application/json",
            headers=headers,
        )

        assert payment.status_code == 200, payment.content
        assert payment.json()["status"] == "succeeded"

    def test_a_price_set_for_the_demo_merchant_since_is_kept_on_the_next_run(self, tmp_path):
        credentials = tmp_path / "demo.json"
        call_command("seed_demo", credentials_file=str(credentials))
        merchant_id = json.loads(credentials.read_text())["merchant_id"]
        set_price(
            merchant_id=merchant_id,
            currency="EUR",
            payment_method="card",
            percentage="1.5",
            fixed_fee_minor=10,
        )
        call_command("seed_demo", credentials_file=str(credentials))
        prices = PriceListEntry.objects.filter(merchant__public_id=merchant_id, currency="EUR")
        assert {(p.payment_method, str(p.percentage), p.fixed_fee_minor) for p in prices} == {
            ("card", "1.5000", 10),
            ("open_banking", "1.0000", 20),
        }

    def test_running_it_twice_changes_nothing(self, tmp_path):
        credentials = tmp_path / "demo.json"
        call_command("seed_demo", credentials_file=str(credentials))
        first = credentials.read_text()
        call_command("seed_demo", credentials_file=str(credentials))
        assert credentials.read_text() == first
        assert Merchant.objects.count() == 1
