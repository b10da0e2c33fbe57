"""A suspended or rejected merchant takes no payment and gets no key, whatever the door: the
API (its keys stop working), the hosted checkout, the portal's capture, key creation; live
mode belongs to an approved merchant only, even for a user who also belongs to another one.
Cancels stay possible. Cross-app (merchants, checkout, payments, portal), so it lives here."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.backoffice.tests.helpers import log_in, make_member, make_merchant, make_payment
from apps.checkout import services as checkout
from apps.checkout.tests.helpers import make_merchant as make_checkout_merchant
from apps.common.errors import StateError
from apps.merchants.facade import create_api_key
from apps.merchants.models import ApiKey, Merchant, MerchantMembership
from apps.merchants.services import suspend_merchant
from apps.payments import facade as payments
from apps.payments.tests.api_helpers import make_token

pytestmark = pytest.mark.django_db


def suspend(merchant_id: str) -> None:
    suspend_merchant(merchant_id=merchant_id, reason="fraud", actor_type="admin", actor_id="1")


class TestASuspendedMerchant:
    def test_takes_no_payment_through_its_hosted_checkout(self):
        merchant_id = make_checkout_merchant()
        session = checkout.create_checkout_session(
            merchant_id=merchant_id,
            mode="test",
            currency="EUR",
            success_url="https://shop.example/t",
            cancel_url="https://shop.example/c",
            amount_minor=2599,
            customer_email="a@example.com",
        )
        token = make_token(merchant_id=merchant_id)
        suspend(merchant_id)

        page = Client().get(f"/pay/{session.url_token}")
        response = Client().post(f"/pay/{session.url_token}/pay", {"token": token})

        assert page.status_code == 200
        assert "cannot take payments right now" in page.content.decode()
        assert 'name="token"' not in page.content.decode()  # no card form
        assert response.status_code == 409
        assert "cannot take payments right now" in response.content.decode()
        session.refresh_from_db()
        assert (session.status, session.payment_ref, session.attempt_count) == ("open", "", 0)
        assert session.attempt_claimed_at is None

    def test_cannot_capture_in_the_portal_but_can_cancel(self):
        merchant_id = make_merchant()
        owner = make_member(merchant_id=merchant_id, role="owner")
        held = make_payment(merchant_id=merchant_id, capture_method="manual")
        other = make_payment(merchant_id=merchant_id, capture_method="manual")
        suspend(merchant_id)
        client = log_in(Client(), owner)

        client.post(f"/portal/payments/{held['id']}/capture/")
        client.post(f"/portal/payments/{other['id']}/cancel/")

        status = {
            payment_id: payments.get_payment_outcome(
                merchant_id=merchant_id, mode="test", payment_id=payment_id
            ).status
            for payment_id in (held["id"], other["id"])
        }
        assert status == {held["id"]: "requires_capture", other["id"]: "canceled"}

    @pytest.mark.parametrize("status", ["suspended", "rejected"])
    def test_gets_no_new_key(self, status):
        merchant_id = make_merchant(status=status)
        owner = make_member(merchant_id=merchant_id, role="owner")

        client = log_in(Client(), owner)
        client.post("/portal/developers/keys/new/", {"key_type": "secret", "name": "x"})

        assert not ApiKey.objects.filter(merchant__public_id=merchant_id).exists()
        with pytest.raises(StateError) as refused:
            create_api_key(merchant_id=merchant_id, mode="test", key_type="secret")
        assert refused.value.code == "merchant_not_active"


class TestLiveMode:
    def test_does_not_carry_over_to_a_merchant_not_yet_approved(self):
        active = make_merchant(trading_name="A", status="active")
        applied = make_merchant(trading_name="B", status="applied")
        user = make_member(merchant_id=active, role="owner")
        merchant_b = Merchant.objects.get(public_id=applied)
        MerchantMembership.objects.create(
            merchant=merchant_b, user=user, role="owner", created_at=merchant_b.created_at
        )
        client = log_in(Client(), user)
        assert client.post(f"/portal/mode/?merchant={active}", {"mode": "live"}).status_code == 302

        client.get(f"/portal/developers/?merchant={applied}")
        client.post("/portal/developers/keys/new/", {"key_type": "secret", "name": "x"})

        modes = set(ApiKey.objects.filter(merchant=merchant_b).values_list("mode", flat=True))
        assert modes == {"test"}
