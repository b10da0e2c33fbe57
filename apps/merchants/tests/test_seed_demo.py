import json

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from apps.merchants.api_keys import authenticate_api_key
from apps.merchants.models import Merchant, MerchantMembership

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

    def test_running_it_twice_changes_nothing(self, tmp_path):
        credentials = tmp_path / "demo.json"
        call_command("seed_demo", credentials_file=str(credentials))
        first = credentials.read_text()
        call_command("seed_demo", credentials_file=str(credentials))
        assert credentials.read_text() == first
        assert Merchant.objects.count() == 1
