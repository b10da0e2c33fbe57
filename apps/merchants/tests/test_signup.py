"""Self-serve sign-up: one form creates the owner, the applied merchant and test keys; bad
input re-renders with field errors and creates nothing."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.common.models import AuditEvent
from apps.merchants.identity.devices import AuthenticatorDevice
from apps.merchants.identity.session_state import PASSWORD_ONLY_KEY
from apps.merchants.models import ApiKey, BeneficialOwner, KybDocument, Merchant, MerchantMembership
from apps.merchants.tests.identity.helpers import code_for

pytestmark = pytest.mark.django_db

PASSWORD = "a long sign-up passphrase"
PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _form(**overrides):
    data = {
        "email": "Founder@Shop.example",
        "password": PASSWORD,
        "password_confirmation": PASSWORD,
        "legal_name": "Bottega Rossi S.r.l.",
        "trading_name": "Bottega Rossi",
        "country": "it",
        "registration_number": "MI-1234567",
        "vat_id": "IT 12345678901",
        "mcc": "5691",
        "website": "https://bottega.example",
        "support_email": "help@bottega.example",
        "settlement_currency": "eur",
        "expected_monthly_volume": "25000",
        "owners-TOTAL_FORMS": "2",
        "owners-INITIAL_FORMS": "0",
        "owners-MIN_NUM_FORMS": "1",
        "owners-MAX_NUM_FORMS": "10",
        "owners-0-full_name": "Maria Rossi",
        "owners-0-date_of_birth": "1980-04-02",
        "owners-0-nationality": "it",
        "owners-0-ownership_percent": "75.5",
        "documents-TOTAL_FORMS": "2",
        "documents-INITIAL_FORMS": "0",
        "documents-MIN_NUM_FORMS": "0",
        "documents-MAX_NUM_FORMS": "10",
    }
    data.update(overrides)
    return data


def _counts():
    return (
        get_user_model().objects.count(),
        Merchant.objects.count(),
        MerchantMembership.objects.count(),
        BeneficialOwner.objects.count(),
        KybDocument.objects.count(),
        ApiKey.objects.count(),
    )


class TestSignUpPage:
    def test_shows_every_field_with_labels(self, client):
        response = client.get("/portal/signup/")
        assert response.status_code == 200
        body = response.content.decode()
        for name in ("email", "password", "legal_name", "vat_id", "mcc", "settlement_currency"):
            assert f'<label for="id_{name}">' in body
        assert 'name="owners-0-ownership_percent"' in body
        assert 'name="documents-0-file"' in body
        assert 'autocomplete="new-password"' in body


class TestSigningUp:
    def test_creates_the_owner_the_applied_merchant_and_test_keys(self, client):
        response = client.post("/portal/signup/", _form())
        assert response.status_code == 302
        assert response["Location"] == "/portal/2fa/setup/"
        user = get_user_model().objects.get(username="founder@shop.example")
        assert user.check_password(PASSWORD)
        merchant = Merchant.objects.get()
        assert merchant.status == "applied"
        assert merchant.country == "IT"
        assert merchant.settlement_currency == "EUR"
        assert merchant.expected_monthly_volume_minor == 2_500_000
        assert MerchantMembership.objects.get().role == "owner"
        owner = BeneficialOwner.objects.get()
        assert (owner.full_name, str(owner.ownership_percent)) == ("Maria Rossi", "75.50")
        keys = set(ApiKey.objects.values_list("mode", "key_type"))
        assert keys == {("test", "secret"), ("test", "publishable")}
        assert client.session[PASSWORD_ONLY_KEY] is True
        assert AuditEvent.objects.filter(action="user.signed_up").exists()

    def test_the_new_user_reaches_only_enrolment_then_the_home_page(self, client):
        client.post("/portal/signup/", _form())
        assert client.get("/portal/")["Location"].startswith("/portal/2fa/setup/")
        client.get("/portal/2fa/setup/")
        device = AuthenticatorDevice.objects.get()
        assert client.post("/portal/2fa/setup/", {"code": code_for(device)}).status_code == 200
        home = client.get("/portal/").content.decode()
        assert "Bottega Rossi" in home
        assert "Applied" in home
        assert "Test mode:</strong> available now" in home
        assert "available once your account is active" in home
        secret = re.search(r'id="new-test-secret-key"[^>]*>(sk_test_\w+)<', home).group(1)
        assert ApiKey.objects.get(key_type="secret").prefix in secret
        publishable = re.search(r'id="new-test-publishable-key"[^>]*>(pk_test_\w+)<', home).group(1)
        assert ApiKey.objects.get(key_type="publishable").prefix in publishable
        again = client.get("/portal/").content.decode()
        assert secret not in again
        assert publishable not in again

    def test_stores_the_uploaded_documents(self, client):
        upload = SimpleUploadedFile("incorporation.pdf", PDF, content_type="application/pdf")
        data = _form(**{"documents-0-document_type": "certificate_of_incorporation"})
        response = client.post("/portal/signup/", {**data, "documents-0-file": upload})
        assert response.status_code == 302
        assert KybDocument.objects.get().document_type == "certificate_of_incorporation"


class TestBadInput:
    @pytest.mark.parametrize(
        ("overrides", "field", "message"),
        [
            (
                {"password": "short pw", "password_confirmation": "short pw"},
                "password",
                "at least 12",
            ),
            ({"password_confirmation": "another passphrase"}, "password_confirmation", "differ"),
            ({"email": "not-an-email"}, "email", "valid email"),
            ({"settlement_currency": "XXQ"}, "settlement_currency", "Unsupported currency"),
            ({"country": "Italy"}, "country", "at most 2"),
            ({"mcc": "12a4"}, "mcc", "4 digits"),
            ({"expected_monthly_volume": "-5"}, "expected_monthly_volume", "greater than or equal"),
            ({"owners-0-full_name": ""}, "owners-0-full_name", "required"),
            (
                {"owners-0-ownership_percent": "120"},
                "owners-0-ownership_percent",
                "less than or equal",
            ),
            ({"owners-0-date_of_birth": "2999-01-01"}, None, "date of birth must be in the past"),
        ],
    )
    def test_re_renders_with_the_error_and_creates_nothing(self, client, overrides, field, message):
        before = _counts()
        response = client.post("/portal/signup/", _form(**overrides))
        assert response.status_code == 400
        body = response.content.decode()
        assert message in body
        if field:
            assert f'id="id_{field}_error"' in body
        assert _counts() == before
        assert "_auth_user_id" not in client.session

    def test_at_least_one_beneficial_owner_is_required(self, client):
        data = _form()
        for key in [k for k in data if k.startswith("owners-0-")]:
            del data[key]
        before = _counts()
        response = client.post("/portal/signup/", data)
        assert response.status_code == 400
        assert "Please submit at least 1 form" in response.content.decode()
        assert _counts() == before

    def test_an_existing_email_is_refused(self, client):
        client.post("/portal/signup/", _form())
        other = type(client)()
        before = _counts()
        response = other.post("/portal/signup/", _form(**{"email": "FOUNDER@shop.example"}))
        assert response.status_code == 400
        assert "already exists" in response.content.decode()
        assert _counts() == before

    def test_a_document_that_is_not_a_pdf_or_image_creates_nothing(self, client):
        upload = SimpleUploadedFile(
            "notes.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf"
        )
        data = _form(**{"documents-0-document_type": "proof_of_address"})
        before = _counts()
        response = client.post("/portal/signup/", {**data, "documents-0-file": upload})
        assert response.status_code == 400
        assert "Documents:" in response.content.decode()
        assert _counts() == before

    def test_a_document_without_a_type_is_refused(self, client):
        upload = SimpleUploadedFile("a.pdf", PDF, content_type="application/pdf")
        before = _counts()
        response = client.post("/portal/signup/", {**_form(), "documents-0-file": upload})
        assert response.status_code == 400
        assert "Choose what this document is" in response.content.decode()
        assert _counts() == before
