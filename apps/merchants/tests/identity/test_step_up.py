"""Step-up: sensitive actions need password and second factor within the last 5 minutes."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.utils import timezone

from apps.common.models import AuditEvent
from apps.merchants.identity.session_state import AUTHENTICATED_AT_KEY
from apps.merchants.identity.step_up import has_recent_authentication, step_up_required
from apps.merchants.tests.factories import UserFactory
from apps.merchants.tests.identity.helpers import PASSWORD, code_for, sign_in_with_second_factor

pytestmark = pytest.mark.django_db


@step_up_required
def _sensitive_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("done")


def _request(*, user, verified: bool, authenticated_seconds_ago: float | None) -> HttpRequest:
    request = RequestFactory().post("/portal/api-keys/create/")
    request.session = SessionStore()
    if authenticated_seconds_ago is not None:
        moment = timezone.now() - timedelta(seconds=authenticated_seconds_ago)
        request.session[AUTHENTICATED_AT_KEY] = moment.timestamp()
    request.user = user
    user.is_verified = lambda: verified
    return request


class TestStepUpRequired:
    def test_a_recent_full_sign_in_passes(self):
        request = _request(user=UserFactory.create(), verified=True, authenticated_seconds_ago=60)
        assert _sensitive_view(request).content == b"done"

    def test_an_older_sign_in_is_sent_to_reauthentication(self):
        request = _request(user=UserFactory.create(), verified=True, authenticated_seconds_ago=301)
        response = _sensitive_view(request)
        assert response.status_code == 302
        assert response["Location"] == "/portal/reauth/?next=/portal/api-keys/create/"

    def test_an_unverified_session_never_passes(self):
        request = _request(user=UserFactory.create(), verified=False, authenticated_seconds_ago=1)
        assert _sensitive_view(request).status_code == 302

    def test_an_anonymous_user_is_sent_to_the_login(self):
        request = RequestFactory().get("/portal/api-keys/")
        request.session = SessionStore()
        request.user = AnonymousUser()
        assert _sensitive_view(request)["Location"].startswith("/portal/login/")


class TestReauthenticationPage:
    def _signed_in_long_ago(self, client):
        user = UserFactory.create()
        device = sign_in_with_second_factor(client, user)
        session = client.session
        session[AUTHENTICATED_AT_KEY] = (timezone.now() - timedelta(minutes=10)).timestamp()
        session.save()
        return user, device

    def test_password_and_code_satisfy_the_step_up(self, client):
        _, device = self._signed_in_long_ago(client)
        response = client.post(
            "/portal/reauth/",
            {"password": PASSWORD, "code": code_for(device), "next": "/portal/api-keys/"},
        )
        assert response.status_code == 302
        assert response["Location"] == "/portal/api-keys/"
        request = HttpRequest()
        request.session = client.session
        request.user = UserFactory.build()
        request.user.is_verified = lambda: True
        assert has_recent_authentication(request)
        event = AuditEvent.objects.get(action="auth.step_up_succeeded")
        assert event.ip_address == "127.0.0.1"
        assert (
            AuditEvent.objects.get(action="auth.second_factor_succeeded").metadata["purpose"]
            == "step_up"
        )

    def test_a_wrong_password_is_refused_and_audited(self, client):
        user, device = self._signed_in_long_ago(client)
        response = client.post(
            "/portal/reauth/", {"password": "not my password", "code": code_for(device)}
        )
        assert response.status_code == 400
        assert (
            client.session[AUTHENTICATED_AT_KEY]
            < (timezone.now() - timedelta(minutes=9)).timestamp()
        )
        event = AuditEvent.objects.get(action="auth.step_up_failed")
        assert event.metadata["reason"] == "password"
        assert event.object_id == str(user.pk)

    def test_a_wrong_code_is_refused_and_audited(self, client):
        _, device = self._signed_in_long_ago(client)
        wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"
        response = client.post("/portal/reauth/", {"password": PASSWORD, "code": wrong})
        assert response.status_code == 400
        assert AuditEvent.objects.get(action="auth.step_up_failed").metadata["reason"] == (
            "second_factor"
        )

    def test_the_page_asks_for_password_and_one_time_code(self, client):
        self._signed_in_long_ago(client)
        body = client.get("/portal/reauth/?next=/portal/").content.decode()
        assert 'autocomplete="current-password"' in body
        assert 'autocomplete="one-time-code"' in body
