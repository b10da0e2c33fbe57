import json
from datetime import UTC, datetime

import pytest
from django.test import Client

from apps.common.models import OutboxEvent
from apps.common.outbox import enqueue_event, relay_outbox_until_empty
from apps.merchants.facade import create_api_key
from apps.payments.models import WebhookDelivery
from apps.payments.tests.api_helpers import make_merchant_with_key, make_token, post_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant():
    return make_merchant_with_key()


def _pay(client, merchant_id, number="4242424242424242"):
    response = post_json(
        client,
        "/v1/payments",
        {
            "amount": 2500,
            "currency": "EUR",
            "payment_method": make_token(merchant_id=merchant_id, number=number),
            "confirm": True,
        },
    )
    return response.json()


def _event(*, merchant_id, event_type, when, livemode=False):
    return enqueue_event(
        event_type=event_type,
        payload={"id": "pay_x", "livemode": livemode},
        aggregate_type="payment",
        aggregate_id="pay_x",
        merchant_ref=merchant_id,
        now=when,
    )


def _types(response):
    return [event["type"] for event in response.json()["data"]]


class TestEventsApi:
    def test_a_payment_s_events_are_listed_newest_first_with_the_payment_as_data_object(
        self, merchant
    ):
        merchant_id, client = merchant
        payment = _pay(client, merchant_id)
        response = client.get("/v1/events")
        assert response.status_code == 200
        body = response.json()
        assert body["object"] == "list"
        assert _types(response) == ["payment.succeeded", "payment.created"]
        newest = body["data"][0]
        assert newest["id"].startswith("evt_")
        assert newest["object"] == "event"
        assert newest["livemode"] is False
        assert newest["data"]["object"]["id"] == payment["id"]
        assert newest["data"]["object"]["status"] == "succeeded"
        assert isinstance(newest["created"], int)

    def test_an_event_is_retrieved_by_the_id_its_webhooks_carry(self, merchant):
        merchant_id, client = merchant
        payment = _pay(client, merchant_id)
        stored = OutboxEvent.objects.get(aggregate_id=payment["id"], event_type="payment.succeeded")
        response = client.get(f"/v1/events/{stored.public_id}")
        assert response.status_code == 200
        event = response.json()
        assert (event["id"], event["type"]) == (stored.public_id, "payment.succeeded")
        assert event["data"]["object"] == stored.payload
        assert event == client.get("/v1/events").json()["data"][0]

    def test_an_event_reads_the_same_as_its_webhook_delivery(self, merchant, monkeypatch):
        monkeypatch.setattr("apps.payments.webhooks._enqueue_delivery", lambda delivery_id: None)
        merchant_id, client = merchant
        endpoint = post_json(
            client, "/v1/webhook_endpoints", {"url": "https://hooks.example/pay"}
        ).json()
        _pay(client, merchant_id)
        customer = post_json(client, "/v1/customers", {"email": "hook@example.com"}).json()
        relay_outbox_until_empty()
        deliveries = WebhookDelivery.objects.filter(endpoint_ref=endpoint["id"])
        assert sorted(deliveries.values_list("event_type", flat=True)) == [
            "customer.created",
            "payment.created",
            "payment.succeeded",
        ]
        for delivery in deliveries:
            sent = json.loads(delivery.body)
            shown = client.get(f"/v1/events/{delivery.event_id}").json()
            shown.pop("request")
            assert shown == sent
        created = deliveries.get(event_type="customer.created")
        assert json.loads(created.body)["data"]["object"]["id"] == customer["id"]

    def test_the_type_filter_takes_an_exact_type_a_family_or_everything(self, merchant):
        merchant_id, client = merchant
        _pay(client, merchant_id)
        customer = post_json(client, "/v1/customers", {"name": "Ev"}).json()
        post_json(client, f"/v1/customers/{customer['id']}", {"name": "Eve"})
        assert _types(client.get("/v1/events?type=payment.succeeded")) == ["payment.succeeded"]
        assert _types(client.get("/v1/events?type=payment.*")) == [
            "payment.succeeded",
            "payment.created",
        ]
        assert _types(client.get("/v1/events?type=customer.*")) == [
            "customer.updated",
            "customer.created",
        ]
        assert len(client.get("/v1/events?type=*").json()["data"]) == 4
        assert client.get("/v1/events?type=refund.succeeded").json()["data"] == []

    def test_the_created_range_filter_is_half_open(self, merchant):
        merchant_id, client = merchant
        for day in (1, 2, 3):
            _event(
                merchant_id=merchant_id,
                event_type=f"payment.day{day}",
                when=datetime(2026, 3, day, 12, tzinfo=UTC),
            )
        gte = int(datetime(2026, 3, 2, 12, tzinfo=UTC).timestamp())
        lt = int(datetime(2026, 3, 3, 12, tzinfo=UTC).timestamp())
        assert _types(client.get(f"/v1/events?created_gte={gte}&created_lt={lt}")) == [
            "payment.day2"
        ]
        assert _types(client.get(f"/v1/events?created_lt={gte}")) == ["payment.day1"]

    def test_pages_follow_starting_after_until_has_more_is_false(self, merchant):
        merchant_id, client = merchant
        ids = [
            _event(
                merchant_id=merchant_id,
                event_type="payment.created",
                when=datetime(2026, 3, 1, 12, n, tzinfo=UTC),
            )
            for n in range(5)
        ]
        seen, cursor, pages = [], "", 0
        while True:
            page = client.get(f"/v1/events?limit=2{cursor}").json()
            seen += [event["id"] for event in page["data"]]
            pages += 1
            if not page["has_more"]:
                break
            cursor = f"&starting_after={page['data'][-1]['id']}"
        assert seen == ids[::-1]
        assert pages == 3

    def test_events_of_the_other_mode_are_not_shown(self, merchant):
        merchant_id, client = merchant
        test_event = _event(
            merchant_id=merchant_id, event_type="payment.created", when=datetime.now(tz=UTC)
        )
        live_event = _event(
            merchant_id=merchant_id,
            event_type="payment.created",
            when=datetime.now(tz=UTC),
            livemode=True,
        )
        live_secret = create_api_key(merchant_id=merchant_id, mode="live", key_type="secret").secret
        live = Client(headers={"Authorization": f"Bearer {live_secret}"})
        assert [e["id"] for e in live.get("/v1/events").json()["data"]] == [live_event]
        assert live.get("/v1/events").json()["data"][0]["livemode"] is True
        assert [e["id"] for e in client.get("/v1/events").json()["data"]] == [test_event]
        assert live.get(f"/v1/events/{test_event}").status_code == 404
        assert client.get(f"/v1/events/{live_event}").status_code == 404

    def test_another_merchants_event_is_404_and_never_listed(self, merchant):
        _, client = merchant
        other_id, other_client = make_merchant_with_key()
        _pay(other_client, other_id)
        other_event = OutboxEvent.objects.filter(merchant_ref=other_id).first()
        assert other_event is not None
        response = client.get(f"/v1/events/{other_event.public_id}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "resource_missing"
        assert client.get("/v1/events").json()["data"] == []
        assert client.get(f"/v1/events?starting_after={other_event.public_id}").status_code == 404

    @pytest.mark.parametrize(
        ("query", "param"),
        [
            ("type=pay*ment", "type"),
            ("type=payment.*.x", "type"),
            ("type=" + "a" * 101, "type"),
            ("limit=0", "limit"),
            ("limit=101", "limit"),
            ("created_gte=yesterday", "created_gte"),
            ("created_gte=99999999999999", "created_gte"),
            ("created_lt=-1", "created_lt"),
        ],
    )
    def test_bad_filters_are_a_400_naming_the_param(self, merchant, query, param):
        _, client = merchant
        response = client.get(f"/v1/events?{query}")
        assert response.status_code == 400, response.content
        error = response.json()["error"]
        assert (error["type"], error["param"]) == ("invalid_request_error", param)

    def test_an_unknown_event_id_is_a_404_envelope(self, merchant):
        _, client = merchant
        response = client.get("/v1/events/evt_doesnotexist")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "resource_missing"


def _internal_event(*, merchant_id, event_type, payload):
    return enqueue_event(
        event_type=event_type,
        payload=payload,
        aggregate_type="internal",
        aggregate_id="x",
        merchant_ref=merchant_id,
        now=datetime.now(tz=UTC),
    )


class TestOnlyPublicEventsAreShown:
    INTERNAL = [
        ("risk.review_approved", {"mode": "live", "review_id": 1, "payment_id": "pay_x"}),
        ("risk.review_rejected", {"mode": "test", "review_id": 2, "payment_id": "pay_x"}),
        ("merchant.status_changed", {"from": "active", "to": "suspended"}),
        ("open_banking.consent.authorized", {"id": "obc_x", "livemode": False}),
    ]

    @pytest.mark.parametrize(("event_type", "payload"), INTERNAL)
    def test_an_internal_event_is_never_listed_and_is_a_404_by_id(
        self, merchant, event_type, payload
    ):
        merchant_id, client = merchant
        internal = _internal_event(merchant_id=merchant_id, event_type=event_type, payload=payload)
        public = _event(
            merchant_id=merchant_id, event_type="payment.created", when=datetime.now(tz=UTC)
        )
        assert [e["id"] for e in client.get("/v1/events?type=*").json()["data"]] == [public]
        assert client.get(f"/v1/events?type={event_type}").json()["data"] == []
        response = client.get(f"/v1/events/{internal}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "resource_missing"

    def test_a_live_review_decision_is_seen_by_neither_mode(self, merchant):
        merchant_id, client = merchant
        decided = _internal_event(
            merchant_id=merchant_id,
            event_type="risk.review_approved",
            payload={"mode": "live", "review_id": 7, "payment_id": "pay_LIVE"},
        )
        live_secret = create_api_key(merchant_id=merchant_id, mode="live", key_type="secret").secret
        live = Client(headers={"Authorization": f"Bearer {live_secret}"})
        for api in (client, live):
            assert api.get("/v1/events").json()["data"] == []
            assert api.get(f"/v1/events/{decided}").status_code == 404

    def test_an_event_whose_payload_names_no_mode_is_shown_in_neither(self, merchant):
        merchant_id, client = merchant
        unmoded = _internal_event(
            merchant_id=merchant_id, event_type="payment.created", payload={"id": "pay_x"}
        )
        assert client.get("/v1/events").json()["data"] == []
        assert client.get(f"/v1/events/{unmoded}").status_code == 404

    def test_the_events_api_and_webhooks_share_one_list_of_public_types(self):
        from apps.common.outbox_selectors import PUBLIC_EVENT_TYPE_PREFIXES
        from apps.payments.webhooks import WEBHOOK_EVENT_PREFIXES

        assert WEBHOOK_EVENT_PREFIXES is PUBLIC_EVENT_TYPE_PREFIXES


class TestTypePatterns:
    @pytest.mark.parametrize("pattern", ["pay*.*", "pay*", "*.succeeded", "*.*", "payment.*.*"])
    def test_a_wildcard_anywhere_but_at_the_end_is_a_400_naming_type(self, merchant, pattern):
        _, client = merchant
        response = client.get("/v1/events", {"type": pattern})
        assert response.status_code == 400, response.content
        error = response.json()["error"]
        assert (error["code"], error["param"]) == ("parameter_invalid", "type")

    def test_a_family_matches_only_its_own_dotted_prefix(self, merchant):
        merchant_id, client = merchant
        now = datetime.now(tz=UTC)
        _event(merchant_id=merchant_id, event_type="payment.created", when=now)
        _event(merchant_id=merchant_id, event_type="payment_method.attached", when=now)
        assert _types(client.get("/v1/events?type=payment.*")) == ["payment.created"]
