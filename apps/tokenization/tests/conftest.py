"""Vault test fixtures: a throwaway keyring per session, merchants, card helpers."""

import shutil
from pathlib import Path

import pytest
import redis
from django.conf import settings

from apps.tokenization.crypto import reset_key_provider
from apps.tokenization.tests.factories import MerchantFactory, next_year

VISA = "4242424242424242"
AMEX = "378282246310005"
CVC_SENTINEL = "7391"  # appears nowhere but in the shopper's hands


@pytest.fixture(autouse=True, scope="session")
def _throwaway_keyring():
    """The test settings point at a per-session keyring under the temp directory (created on
    first use); it is removed when the session ends."""
    keyring_file = Path(settings.VAULT_LOCAL_KEYRING_FILE)
    assert "paymenthub-test-vault" in str(keyring_file), "tests must never use a real keyring"
    reset_key_provider()
    yield keyring_file
    reset_key_provider()
    shutil.rmtree(keyring_file.parent, ignore_errors=True)


@pytest.fixture
def redis_client():
    """The CVC store's Redis (replaces the project-wide fixture of the same name, which is the
    cache db): this run's CVC keys are cleared before and after the test."""
    client = redis.Redis.from_url(str(settings.CACHES[settings.VAULT_CVC_CACHE_ALIAS]["LOCATION"]))
    _delete_this_runs_cvc_keys(client)
    yield client
    _delete_this_runs_cvc_keys(client)
    client.close()


def _delete_this_runs_cvc_keys(client):
    for key in client.scan_iter(match=f"{settings.VAULT_CVC_KEY_PREFIX}*", count=500):
        client.delete(key)


@pytest.fixture
def merchant():
    return MerchantFactory()


@pytest.fixture
def other_merchant():
    return MerchantFactory()


@pytest.fixture
def card_input():
    return {"number": VISA, "exp_month": 12, "exp_year": next_year(), "cvc": "123"}
