"""Ending every session of a user (2FA reset, member removed) finds them in Redis."""

import threading

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from apps.merchants.identity.sessions import end_user_sessions, register_user_session
from apps.merchants.tests.factories import UserFactory
from apps.merchants.tests.identity.helpers import PASSWORD, code_for, enrol_authenticator

pytestmark = pytest.mark.django_db


def _session_key() -> str:
    session = SessionStore()
    session["anything"] = 1
    session.create()
    assert session.session_key is not None
    return session.session_key


class TestEndUserSessions:
    def test_ends_every_registered_session_and_only_that_users(self):
        user, other = UserFactory.create(), UserFactory.create()
        keys = [_session_key() for _ in range(3)]
        others_key = _session_key()
        for key in keys:
            register_user_session(user_id=user.pk, session_key=key)
        register_user_session(user_id=other.pk, session_key=others_key)
        assert end_user_sessions(user_id=user.pk) == 3
        assert not any(SessionStore().exists(key) for key in keys)
        assert SessionStore().exists(others_key)
        assert end_user_sessions(user_id=user.pk) == 0

    def test_concurrent_sign_ins_are_all_registered(self):
        user = UserFactory.create()
        keys = [f"concurrent-session-{n}" for n in range(20)]
        barrier = threading.Barrier(len(keys))

        def register(key: str) -> None:
            barrier.wait()
            register_user_session(user_id=user.pk, session_key=key)

        threads = [threading.Thread(target=register, args=(key,)) for key in keys]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert end_user_sessions(user_id=user.pk) == len(keys)

    def test_a_sign_in_through_the_pages_is_registered(self):
        user = UserFactory.create()
        device = enrol_authenticator(user)
        client = Client()
        client.post("/portal/login/", {"username": user.username, "password": PASSWORD})
        client.post("/portal/2fa/", {"code": code_for(device)})
        key = client.session.session_key
        assert client.get("/portal/").status_code == 200
        assert end_user_sessions(user_id=user.pk) >= 1
        assert not SessionStore().exists(key)
        assert client.get("/portal/")["Location"].startswith("/portal/login/")
