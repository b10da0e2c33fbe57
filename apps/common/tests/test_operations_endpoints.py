import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db


class TestHealthz:
    def test_says_the_process_is_up(self, client: Client):
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


class TestReadyz:
    def test_is_ready_when_database_redis_and_broker_answer(self, client: Client):
        response = client.get("/readyz")
        assert response.status_code == 200
        assert response.json()["checks"] == {"database": "ok", "redis": "ok", "broker": "ok"}

    def test_answers_503_naming_redis_when_redis_is_down(self, client: Client):
        with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
            response = client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable"
        assert body["down"] == ["redis"]

    def test_answers_503_naming_the_broker_when_it_is_down(self, client: Client):
        with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0"):
            response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["down"] == ["broker"]


class TestRequestIds:
    def test_every_response_carries_a_fresh_request_id(self, client: Client):
        first = client.get("/healthz")["X-Request-Id"]
        second = client.get("/healthz")["X-Request-Id"]
        assert first.startswith("req_")
        assert first != second

    def test_a_safe_incoming_request_id_is_kept(self, client: Client):
        assert (
            client.get("/healthz", HTTP_X_REQUEST_ID="trace-0123456789")["X-Request-Id"]
            == "trace-0123456789"
        )

    def test_an_unsafe_incoming_request_id_is_replaced(self, client: Client):
        response = client.get("/healthz", HTTP_X_REQUEST_ID="evil\r\nSet-Cookie: x=1")
        assert response["X-Request-Id"].startswith("req_")


class TestMetrics:
    def test_exposes_prometheus_metrics(self, client: Client):
        client.get("/healthz")
        response = client.get("/metrics")
        assert response.status_code == 200
        text = response.content.decode()
        assert "django_http_requests_total_by_method_total" in text


class TestOpenApi:
    def test_publishes_the_schema(self, client: Client):
        import json

        response = client.get("/v1/openapi.json")
        assert response.status_code == 200
        assert json.loads(response.content)["info"]["title"] == "PaymentHub API"

    def test_serves_the_docs_pages_without_a_third_party_cdn(self, client: Client):
        for url in ("/v1/docs/", "/v1/redoc/"):
            response = client.get(url)
            assert response.status_code == 200
            page = response.content.decode()
            assert "cdn.jsdelivr.net" not in page
            assert "/static/drf_spectacular_sidecar/" in page
