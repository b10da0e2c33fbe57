"""A merchant signs up, sets up an authenticator from the key on the page, signs out and in
again with password and code, in the machine's Chromium."""

import base64
import hashlib
import hmac
import struct
import time

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "founder@browser-shop.example"
PASSWORD = "a long browser passphrase"


def totp_code(secret: str, *, steps_ahead: int = 0) -> str:
    """RFC 6238 (SHA-1, 30 s, 6 digits), as authenticator apps compute it."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = int(time.time()) // 30 + steps_ahead
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def sign_up(page) -> None:
    page.goto("/portal/signup/")
    page.get_by_label("Your work email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_label("Legal name of the business").fill("Browser Shop S.r.l.")
    page.get_by_label("Trading name (shown to your customers)").fill("Browser Shop")
    page.get_by_label("Country of incorporation (2-letter code, e.g. IT)").fill("IT")
    page.get_by_label("Support email for your customers").fill("help@browser-shop.example")
    page.get_by_label("Settlement currency (e.g. EUR)").fill("EUR")
    page.get_by_label("Expected monthly volume (whole units of the settlement currency)").fill(
        "10000"
    )
    page.locator("#id_owners-0-full_name").fill("Anna Bianchi")
    page.locator("#id_owners-0-date_of_birth").fill("1985-06-15")
    page.locator("#id_owners-0-nationality").fill("IT")
    page.locator("#id_owners-0-ownership_percent").fill("100")
    page.get_by_role("button", name="Create account").click()


class TestSignUpAndTwoFactor:
    def test_sign_up_enrol_sign_out_and_sign_in_with_a_code(self, page):
        sign_up(page)
        page.get_by_role("heading", name="Set up two-factor authentication").wait_for()
        assert page.locator(".qr svg").count() == 1
        secret = page.locator("#totp-secret").inner_text().strip()
        page.get_by_label("Code from your authenticator app").fill(totp_code(secret))
        page.get_by_role("button", name="Turn on two-factor authentication").click()

        page.get_by_role("heading", name="Two-factor authentication is on").wait_for()
        assert page.locator("#backup-codes li").count() == 10
        page.get_by_role("link", name="I saved my backup codes — continue").click()

        page.get_by_role("heading", name="Welcome to PaymentHub").wait_for()
        assert page.locator("#merchant-status").inner_text() == "Applied"
        assert page.locator("#new-test-secret-key").inner_text().startswith("sk_test_")
        assert "available once your account is active" in page.content()

        page.get_by_role("button", name="Sign out").click()
        page.get_by_role("heading", name="Sign in").wait_for()

        page.get_by_label("Email").fill(EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Continue").click()
        page.get_by_role("heading", name="Two-factor authentication").wait_for()

        # The code used at enrolment is spent; a made-up one is refused too.
        wrong = f"{(int(totp_code(secret)) + 1) % 1_000_000:06d}"
        page.get_by_label("Authentication code").fill(wrong)
        page.get_by_role("button", name="Verify").click()
        page.get_by_text("That code is not valid").wait_for()
        page.goto("/portal/")
        assert "/portal/2fa/" in page.url

        time.sleep(1.2)  # django-otp throttles the next try for a second after a failure
        page.get_by_label("Authentication code").fill(totp_code(secret, steps_ahead=1))
        page.get_by_role("button", name="Verify").click()
        page.get_by_role("heading", name="Welcome to PaymentHub").wait_for()
        assert page.url.endswith("/portal/")
        assert page.locator("#merchant-status").inner_text() == "Applied"
        assert page.locator("#new-test-secret-key").count() == 0
