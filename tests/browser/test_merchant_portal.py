"""A merchant's owner works in the portal in the machine's Chromium: signs in with password
and authenticator code, finds a payment by the customer's email, opens its timeline, refunds
part of it after re-authenticating, sees the refund on the timeline and in the balance
transactions; creates and rolls an API key; exports payments to CSV and downloads it.
Screenshots of each page go to test-artifacts/portal/ (ignored by git).

No sleeps: every step waits for a condition (a heading, a URL, a text). Instead of waiting for
the sign-in to age past the step-up window, a test moves the session's sign-in time back
(what minutes of waiting would do), so the re-authentication page is certain, not a race.
Authenticator codes are computed for the first time step the device has not used yet."""

import base64
import os
import time
from importlib import import_module
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from apps.backoffice.models import ReportExport
from apps.backoffice.reports import generate_report_export
from apps.backoffice.tests.helpers import (
    AUTHENTICATED_AT_KEY,
    PASSWORD,
    api_client,
    make_member,
    make_merchant,
    make_payment,
)
from apps.merchants.identity.devices import AuthenticatorDevice, seal_totp_seed
from apps.payments.tests.sandbox_bank import bank_settings, register_redirect_uri, run_sandbox_bank
from tests.browser.test_signup_and_two_factor import totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "portal"


def snap(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def owner():
    """An active merchant with a few payments, and its owner with an authenticator."""
    merchant_id = make_merchant(trading_name="Bottega Verde")
    user = make_member(merchant_id=merchant_id, role="owner", email="owner@bottega.example")
    seed = os.urandom(20)
    device = AuthenticatorDevice.objects.create(
        user=user, name="phone", confirmed=True, key=seal_totp_seed(seed=seed, user_id=user.pk)
    )
    secret = base64.b32encode(seed).decode().rstrip("=")
    make_payment(merchant_id=merchant_id, amount=1999, email="someone@else.example")
    make_payment(
        merchant_id=merchant_id, amount=900, number="4000000000009995", email="x@else.example"
    )
    paid = make_payment(merchant_id=merchant_id, amount=4200, email="ada@shopper.example")
    return {"merchant_id": merchant_id, "secret": secret, "payment": paid["id"], "device": device}


def code(owner) -> str:
    """A code the server accepts now: a used time step is refused, so take the current step
    (as the device's drift sees it) or, if that one was used already, the next one (within
    the one-step tolerance)."""
    device = owner["device"]
    device.refresh_from_db()
    current = int(time.time()) // 30 + device.drift
    step = max(current, device.last_t + 1)
    return totp_code(owner["secret"], steps_ahead=step - int(time.time()) // 30)


def make_the_sign_in_old(page) -> None:
    """The session's last password-and-code proof moves an hour back, out of the step-up
    window, as if the owner had stepped away."""
    cookie = next(c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME)
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key=cookie["value"])
    session[AUTHENTICATED_AT_KEY] = time.time() - 3600
    session.save()


def sign_in(page, owner) -> None:
    page.goto("/portal/dashboard/")
    page.get_by_label("Email").fill("owner@bottega.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Authentication code").fill(code(owner))
    page.get_by_role("button", name="Verify").click()
    page.get_by_role("heading", name="Dashboard").wait_for()


def reauthenticate(page, owner) -> None:
    """On the step-up page (waited for, not assumed): password and a fresh code."""
    page.wait_for_url("**/portal/reauth/**")
    page.get_by_role("heading", name="Confirm it is you").wait_for()
    snap(page, "reauth")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Authentication code").fill(code(owner))
    page.get_by_role("button", name="Confirm").click()


@pytest.fixture(scope="module")
def sandbox_bank():
    yield from run_sandbox_bank()


@pytest.fixture
def bank(sandbox_bank, live_server, settings) -> str:
    """The sandbox bank (its own process) sends the owner back to this live server."""
    callback = f"{live_server.url}/v1/open-banking/callback"
    register_redirect_uri(bank_url=sandbox_bank, redirect_uri=callback)
    for name, value in bank_settings(bank_url=sandbox_bank, redirect_uri=callback).items():
        setattr(settings, name, value)
    return sandbox_bank


class TestMerchantPortal:
    def test_find_a_payment_refund_part_of_it_with_step_up_and_see_it_everywhere(self, page, owner):
        sign_in(page, owner)
        assert page.locator("#current-mode").inner_text() == "Test mode"
        assert "61.99 EUR" in page.locator("#period-today").inner_text()
        assert page.locator("svg.chart").count() == 1
        snap(page, "dashboard")

        page.get_by_role("link", name="Payments").click()
        page.get_by_role("heading", name="Payments").wait_for()
        assert page.locator("#payments tbody tr").count() == 3
        snap(page, "payments")
        page.get_by_label("Search").fill("ADA@shopper.example")
        page.get_by_role("button", name="Search").click()
        page.wait_for_url("**/portal/payments/?q=*")
        assert page.locator("#payments tbody tr").count() == 1
        page.get_by_role("link", name=owner["payment"]).click()

        page.get_by_role("heading", name="Timeline").wait_for()
        timeline = page.locator("#timeline")
        assert "payment.succeeded" in timeline.inner_text()
        assert "Ledger: capture" in timeline.inner_text()
        snap(page, "payment-detail")

        make_the_sign_in_old(page)
        page.get_by_role("link", name="Refund…").click()
        reauthenticate(page, owner)
        page.get_by_role("heading", name=f"Refund {owner['payment']}").wait_for()
        page.get_by_label("Amount to refund").fill("12.50")
        page.get_by_label("Reason").select_option("requested_by_customer")
        snap(page, "refund-form")
        page.get_by_role("button", name="Refund").click()

        page.get_by_text("Refund of 12.50 EUR succeeded.").wait_for()
        assert "Refund 12.50 EUR succeeded" in page.locator("#timeline").inner_text()
        assert "Ledger: refund" in page.locator("#timeline").inner_text()
        assert page.locator("#refunded").inner_text() == "12.50 EUR"
        snap(page, "payment-refunded")

        page.get_by_role("link", name="Balances").click()
        page.get_by_role("heading", name="Balance transactions").wait_for()
        rows = page.locator("#balance-transactions tbody tr")
        assert "refund" in rows.first.inner_text()
        assert "-12.50 EUR" in rows.first.inner_text()
        snap(page, "balances")

    def test_create_and_roll_an_api_key_then_export_payments_to_csv(self, page, owner):
        sign_in(page, owner)
        page.get_by_role("link", name="Developers").click()
        page.get_by_role("heading", name="Developers").wait_for()
        snap(page, "developers")
        make_the_sign_in_old(page)
        page.get_by_role("link", name="Create key").click()
        reauthenticate(page, owner)
        page.get_by_role("button", name="Create key").wait_for()
        page.get_by_label("Name").fill("order server")
        page.get_by_role("button", name="Create key").click()
        secret = page.locator("#revealed-secret").inner_text()
        assert secret.startswith("sk_test_")
        snap(page, "api-key-created")
        page.reload()
        assert page.locator("#revealed-secret").count() == 0  # shown once

        row = page.locator("#api-keys tbody tr", has_text="order server")
        row.get_by_role("link", name="Roll…").click()  # the re-authentication is recent
        page.get_by_role("button", name="Roll key").click()
        page.get_by_text("Key rolled").wait_for()
        assert page.locator("#revealed-secret").inner_text() != secret
        assert "expires" in page.locator("#api-keys").inner_text()
        snap(page, "api-key-rolled")

        page.get_by_role("link", name="Reports").click()
        page.get_by_role("heading", name="Export to CSV").wait_for()
        page.get_by_role("button", name="Export").click()
        page.locator("#export-state").wait_for()
        assert page.locator("progress").count() == 1
        snap(page, "export-in-progress")
        generate_report_export(export_id=ReportExport.objects.get().public_id)  # the worker
        page.get_by_role("link", name="Download CSV").wait_for(timeout=20_000)  # page refreshes
        snap(page, "export-ready")
        with page.expect_download() as download_info:
            page.get_by_role("link", name="Download CSV").click()
        body = Path(download_info.value.path()).read_text()
        assert "ada@shopper.example" in body
        assert body.count("\n") == 4  # header and three payments

    def test_add_a_webhook_endpoint_and_look_at_settings(self, page, owner):
        sign_in(page, owner)
        page.get_by_role("link", name="Developers").click()
        make_the_sign_in_old(page)
        page.get_by_role("link", name="Add endpoint").click()
        reauthenticate(page, owner)
        page.get_by_label("Endpoint URL").fill("not a url")
        page.get_by_role("button", name="Add endpoint").click()
        page.locator(".errorlist").first.wait_for()
        snap(page, "webhook-endpoint-error")
        page.get_by_label("Endpoint URL").fill("https://shop.example/hooks")
        page.get_by_label("Events to send").fill("payment.*, refund.*")
        page.get_by_role("button", name="Add endpoint").click()
        assert page.locator("#revealed-secret").inner_text().startswith("whsec_")
        page.get_by_text("Nothing sent to this endpoint yet").wait_for()
        snap(page, "webhook-endpoint")
        page.get_by_role("link", name="Developers", exact=True).click()
        page.get_by_role("link", name="API request log").click()
        page.get_by_role("heading", name="API request log").wait_for()
        assert page.locator("#api-requests tbody tr", has_text="/v1/payments").count() == 3
        api_client(merchant_id=owner["merchant_id"]).get(
            "/v1/payments", headers={"X-Request-Id": "req_browser_walk_1"}
        )
        page.reload()
        assert "req_browser_walk_1" in page.locator("#api-requests").inner_text()
        snap(page, "request-log")
        page.get_by_role("link", name="Settings").click()
        page.locator("#branding-preview").wait_for()
        snap(page, "settings")
        page.get_by_role("link", name="Edit branding").click()
        page.wait_for_url("**/portal/settings/branding/")
        page.get_by_label("Name shown to customers").fill("Bottega dal vivo")
        page.get_by_label("Accent colour").fill("#ffd500")
        # the preview follows the form before anything is saved
        expect(page.locator("#preview-name")).to_have_text("Bottega dal vivo")
        expect(page.locator("#preview-button")).to_have_css("color", "rgb(0, 0, 0)")
        snap(page, "branding-live-preview")
        page.get_by_role("button", name="Save branding").click()
        page.get_by_text("Checkout branding saved.").wait_for()
        expect(page.locator("#preview-name")).to_have_text("Bottega dal vivo")
        page.get_by_role("link", name="Generate new codes…").click()  # sign-in is recent
        page.get_by_role("button", name="Generate new backup codes").click()
        expect(page.locator("#backup-codes li")).to_have_count(10)
        snap(page, "backup-codes")
        page.get_by_role("link", name="Reports").click()
        page.get_by_text("No exports yet.").wait_for()
        snap(page, "reports-empty")
        page.get_by_role("link", name="Team", exact=True).click()
        page.wait_for_url("**/portal/team/**")
        snap(page, "team")

    def test_connect_a_bank_account_and_see_its_balance_and_transactions(self, page, owner, bank):
        sign_in(page, owner)
        page.get_by_role("link", name="Bank accounts", exact=True).click()
        page.get_by_text("No test bank accounts connected yet.").wait_for()
        snap(page, "bank-accounts-empty")
        make_the_sign_in_old(page)
        page.get_by_role("link", name="Connect a bank account").click()
        reauthenticate(page, owner)
        page.get_by_label("Your bank").select_option(label="Sandbox Bank")
        snap(page, "bank-connect")
        page.get_by_role("button", name="Continue to your bank").click()
        page.get_by_role("heading", name="Sandbox Bank").wait_for()  # at the bank
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill("alice-pass")
        page.get_by_role("button", name="Approve").click()
        page.get_by_text("Connected.", exact=True).wait_for()  # back in the portal
        assert "Alice Smith" in page.locator("#bank-accounts").inner_text()
        assert "2,500.00 GBP" in page.locator("#bank-balances").inner_text()
        assert "Opening balance" in page.locator("#bank-transactions").inner_text()
        snap(page, "bank-connection")
        page.get_by_role("link", name="Alice savings").click()
        page.get_by_role("heading", name="Balances of Alice savings").wait_for()
        assert "10,000.00 GBP" in page.locator("#bank-balances").inner_text()
