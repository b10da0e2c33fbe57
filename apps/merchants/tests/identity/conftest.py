import pytest
from django.test import Client

USER_AGENT = "Mozilla/5.0 (identity tests)"


@pytest.fixture
def client() -> Client:
    """A browser-like client: a user agent the audit trail records, REMOTE_ADDR 127.0.0.1."""
    return Client(headers={"user-agent": USER_AGENT})
