"""The hosted page: branding, order summary, languages, and its browser security headers."""

from __future__ import annotations

import base64
import hashlib
import re
import statistics
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.apps import apps
from django.test import Client
from django.utils import timezone

from apps.checkout import services
from apps.checkout.models import CheckoutSession

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def session(merchant_id) -> CheckoutSession:
    return services.create_checkout_session(
        merchant_id=merchant_id,
        mode="test",
        currency="EUR",
        success_url="https://shop.example/thanks",
        cancel_url="https://shop.example/cart",
        line_items=[
            {"name": "Olive oil 1 l", "quantity": 2, "unit_amount": 61725},
            {"name": "Basil seeds", "quantity": 1, "unit_amount": 350},
        ],
    )


def page_of(session: CheckoutSession, client: Client | None = None, **headers: str):
    return (client or Client()).get(f"/pay/{session.url_token}", headers=headers)


class TestHostedPage:
    def test_shows_the_merchants_branding_the_items_and_the_total(self, session, merchant_id):
        merchant = apps.get_model("merchants", "Merchant").objects.get(public_id=merchant_id)
        apps.get_model("merchants", "CheckoutBranding").objects.create(
            merchant=merchant,
            display_name="Bottega Verde Roma",
            logo_url="https://cdn.example/logo.png",
            accent_color="#0A7A3B",
            updated_at=timezone.now(),
        )
        response = page_of(session)
        html = response.content.decode()
        assert response.status_code == 200
        assert "Bottega Verde Roma" in html
        assert 'src="https://cdn.example/logo.png"' in html
        assert "--accent: #0A7A3B" in html
        assert "Olive oil 1 l" in html
        assert "\u00d7 2" in html  # the quantity
        assert "€1,234.50" in html  # 2 x 617.25
        assert "€1,238.00" in html  # the total

    def test_italian_comes_from_the_browser_and_formats_the_amount_the_italian_way(self, session):
        html = page_of(session, **{"Accept-Language": "it-IT,it;q=0.9"}).content.decode()
        assert '<html lang="it">' in html
        assert "Riepilogo dell&#x27;ordine" in html or "Riepilogo dell'ordine" in html
        assert "1.238,00\u00a0€" in html

    def test_the_language_switch_is_remembered(self, session):
        client = Client()
        switched = client.get(f"/pay/{session.url_token}?lang=it")
        assert '<html lang="it">' in switched.content.decode()
        assert '<html lang="it">' in page_of(session, client).content.decode()

    def test_the_card_fields_have_no_name_so_no_card_number_is_ever_posted_here(self, session):
        html = page_of(session).content.decode()
        for field in ("card-number", "card-expiry", "card-cvc", "card-name"):
            tag = re.search(rf'<input id="{field}"[^>]*>', html)
            assert tag is not None
            assert "name=" not in tag.group(0)
        assert 'name="csrfmiddlewaretoken"' in html
        assert re.search(r'data-publishable-key="pk_test_\w+"', html)

    def test_every_script_has_the_nonce_of_the_policy_and_its_integrity_hash(self, session):
        response = page_of(session)
        policy = response["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy
        assert "default-src 'none'" in policy
        nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
        scripts = re.findall(r"<script[^>]*>", response.content.decode())
        assert scripts, "the page has its script"
        digest = hashlib.sha384((ROOT / "static/checkout/checkout.js").read_bytes()).digest()
        for script in scripts:
            assert f'nonce="{nonce}"' in script
            assert f'integrity="sha384-{base64.b64encode(digest).decode()}"' in script
        assert "unsafe-inline" not in policy
        assert page_of(session)["Content-Security-Policy"] != policy  # a fresh nonce each time
        assert response["X-Frame-Options"] == "DENY"

    def test_an_expired_session_shows_a_clear_page_instead_of_a_form(self, session):
        CheckoutSession.objects.filter(pk=session.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        html = page_of(session).content.decode()
        assert "This payment page has expired" in html
        assert 'id="card-form"' not in html

    def test_an_unknown_token_is_a_404(self):
        assert Client().get("/pay/not-a-real-token").status_code == 404

    def test_the_pay_by_bank_button_is_hidden_while_no_bank_method_exists(self, merchant_id):
        both = services.create_checkout_session(
            merchant_id=merchant_id,
            mode="test",
            currency="EUR",
            success_url="https://shop.example/thanks",
            cancel_url="https://shop.example/cart",
            amount_minor=1000,
            payment_method_types=["card", "pay_by_bank"],
        )
        assert 'id="pay-by-bank"' not in page_of(both).content.decode()


class TestFastAndSmall:
    def test_the_page_renders_on_the_server_in_under_50_ms(self, session):
        client = Client()
        page_of(session, client)  # warm: templates compiled, the publishable key made
        timings = []
        for _ in range(15):
            started = time.perf_counter()
            assert page_of(session, client).status_code == 200
            timings.append(time.perf_counter() - started)
        assert statistics.median(timings) < 0.050, timings

    def test_the_whole_page_with_its_css_and_script_weighs_under_30_kb(self, session):
        html = page_of(session).content
        css = (ROOT / "static/checkout/checkout.css").read_bytes()
        script = (ROOT / "static/checkout/checkout.js").read_bytes()
        assert len(html) + len(css) + len(script) < 30_000
        assert b"<script" in html
        assert html.count(b"<script") == 1  # ours only: no third-party script
