from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from apps.common.errors import InvalidRequestError
from apps.common.models import AuditEvent
from apps.merchants.api_keys import (
    InvalidApiKeyError,
    authenticate_api_key,
    create_api_key,
    hash_api_key,
    list_api_keys,
    revoke_api_key,
    roll_api_key,
)
from apps.merchants.errors import MerchantNotFoundError
from apps.merchants.models import ApiKey, Merchant
from apps.merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant():
    return MerchantFactory()


class TestCreateApiKey:
    def test_shows_the_key_once_and_stores_only_its_hash_and_prefix(self, merchant):
        created = create_api_key(merchant_id=merchant.public_id, mode="test", key_type="secret")
        assert created.secret.startswith("sk_test_")
        assert len(created.secret) == len("sk_test_") + 32
        row = ApiKey.objects.get(public_id=created.summary.key_id)
        assert row.secret_hash == hash_api_key(raw_key=created.secret)
        assert created.secret.startswith(row.prefix)
        assert len(row.prefix) < len(created.secret) - 20
        assert created.secret not in repr(created)
        assert not ApiKey.objects.filter(prefix=created.secret).exists()

    def test_makes_publishable_and_live_keys(self, merchant):
        assert create_api_key(
            merchant_id=merchant.public_id, mode="live", key_type="publishable"
        ).secret.startswith("pk_live_")

    def test_is_audited(self, merchant):
        created = create_api_key(
            merchant_id=merchant.public_id,
            mode="test",
            key_type="secret",
            actor_type="user",
            actor_id="7",
        )
        entry = AuditEvent.objects.get(action="api_key.created")
        assert (entry.object_id, entry.merchant_ref, entry.actor_id) == (
            created.summary.key_id,
            merchant.public_id,
            "7",
        )
        assert created.secret not in str(entry.metadata)

    @pytest.mark.parametrize(
        ("mode", "key_type", "param"), [("prod", "secret", "mode"), ("test", "admin", "type")]
    )
    def test_refuses_unknown_modes_and_types(self, merchant, mode, key_type, param):
        with pytest.raises(InvalidRequestError) as excinfo:
            create_api_key(merchant_id=merchant.public_id, mode=mode, key_type=key_type)
        assert excinfo.value.param == param
        assert not ApiKey.objects.exists()

    def test_refuses_an_unknown_merchant(self):
        with pytest.raises(MerchantNotFoundError):
            create_api_key(merchant_id="mch_" + "x" * 24, mode="test", key_type="secret")


class TestAuthenticateApiKey:
    def test_resolves_the_merchant_and_mode(self, merchant):
        created = create_api_key(merchant_id=merchant.public_id, mode="test", key_type="secret")
        principal = authenticate_api_key(raw_key=created.secret)
        assert (principal.merchant_id, principal.mode, principal.key_type) == (
            merchant.public_id,
            "test",
            "secret",
        )
        assert principal.is_authenticated

    def test_records_when_a_key_was_last_used(self, merchant):
        created = create_api_key(merchant_id=merchant.public_id, mode="test", key_type="secret")
        authenticate_api_key(raw_key=created.secret)
        assert ApiKey.objects.get(public_id=created.summary.key_id).last_used_at is not None

    def test_a_key_used_again_within_the_minute_costs_this_process_no_redis_command(self, merchant):
        created = create_api_key(merchant_id=merchant.public_id, mode="test", key_type="secret")
        first = timezone.now()
        authenticate_api_key(raw_key=created.secret, now=first)
        # Were Redis asked again, it would grant a new minute (its claim is gone) and the
        # second use would be written.
        claim = f"api-key-used:{created.summary.key_id}"
        assert cache.delete(claim)
        authenticate_api_key(raw_key=created.secret, now=first + timedelta(seconds=30))
        assert ApiKey.objects.get(public_id=created.summary.key_id).last_used_at == first
        assert cache.get(claim) is None

    def test_a_key_used_after_the_minute_is_recorded_again(self, merchant):
        created = create_api_key(merchant_id=merchant.public_id, mode="test", key_type="secret")
        first = timezone.now()
        authenticate_api_key(raw_key=created.secret, now=first)
        cache.delete(f"api-key-used:{created.summary.key_id}")  # its minute expired in Redis
        later = first + timedelta(seconds=61)
        authenticate_api_key(raw_key=created.secret, now=later)
        assert ApiKey.objects.get(public_id=created.summary.key_id).last_used_at == later

    def test_a_use_recorded_by_another_process_this_minute_is_not_written_again(self, merchant):
        created = create_api_key(merchant_id=merchant.public_id, mode="test", key_type="secret")
        cache.set(f"api-key-used:{created.summary.key_id}", 1, timeout=60)
        authenticate_api_key(raw_key=created.secret)
        assert ApiKey.objects.get(public_id=created.summary.key_id).last_used_at is None

    @pytest.mark.parametrize("raw_key", ["", "sk_test_nope", "x" * 500, "sk_test_é"])
    def test_refuses_unknown_keys_without_saying_why(self, raw_key):
        with pytest.raises(InvalidApiKeyError) as excinfo:
            authenticate_api_key(raw_key=raw_key)
        assert excinfo.value.message == "Invalid API key provided."

    def test_refuses_revoked_keys(self, merchant):
        created = create_api_key(merchant_id=merchant.public_id, mode="test", key_type="secret")
        revoke_api_key(merchant_id=merchant.public_id, key_id=created.summary.key_id)
        with pytest.raises(InvalidApiKeyError):
            authenticate_api_key(raw_key=created.secret)

    def test_allows_test_mode_but_not_live_mode_before_activation(self):
        applicant = MerchantFactory(status="applied")
        test_key = create_api_key(merchant_id=applicant.public_id, mode="test", key_type="secret")
        live_key = create_api_key(merchant_id=applicant.public_id, mode="live", key_type="secret")
        assert authenticate_api_key(raw_key=test_key.secret).mode == "test"
        with pytest.raises(InvalidApiKeyError):
            authenticate_api_key(raw_key=live_key.secret)

    @pytest.mark.parametrize("status", ["suspended", "rejected"])
    def test_refuses_every_key_of_a_suspended_or_rejected_merchant(self, status):
        blocked = MerchantFactory(status="active")
        created = create_api_key(merchant_id=blocked.public_id, mode="test", key_type="secret")
        Merchant.objects.filter(pk=blocked.pk).update(status=status)  # a key made before
        with pytest.raises(InvalidApiKeyError):
            authenticate_api_key(raw_key=created.secret)


class TestRollApiKey:
    def test_the_old_key_keeps_working_for_the_overlap_then_stops(self, merchant):
        old = create_api_key(merchant_id=merchant.public_id, mode="test", key_type="secret")
        now = timezone.now()
        new = roll_api_key(
            merchant_id=merchant.public_id,
            key_id=old.summary.key_id,
            overlap=timedelta(hours=24),
            now=now,
        )
        assert new.secret != old.secret
        assert authenticate_api_key(raw_key=new.secret, now=now).key_id == new.summary.key_id
        assert (
            authenticate_api_key(raw_key=old.secret, now=now + timedelta(hours=23)).key_id
            == old.summary.key_id
        )
        with pytest.raises(InvalidApiKeyError):
            authenticate_api_key(raw_key=old.secret, now=now + timedelta(hours=24, seconds=1))
        assert AuditEvent.objects.filter(
            action="api_key.rolled", object_id=old.summary.key_id
        ).exists()

    def test_a_key_is_rolled_only_once(self, merchant):
        old = create_api_key(merchant_id=merchant.public_id, mode="test", key_type="secret")
        roll_api_key(merchant_id=merchant.public_id, key_id=old.summary.key_id)
        with pytest.raises(InvalidRequestError):
            roll_api_key(merchant_id=merchant.public_id, key_id=old.summary.key_id)

    def test_refuses_an_overlap_beyond_seven_days(self, merchant):
        old = create_api_key(merchant_id=merchant.public_id, mode="test", key_type="secret")
        with pytest.raises(InvalidRequestError):
            roll_api_key(
                merchant_id=merchant.public_id, key_id=old.summary.key_id, overlap=timedelta(days=8)
            )
        assert ApiKey.objects.count() == 1

    def test_another_merchants_key_is_not_found(self, merchant):
        other = MerchantFactory()
        theirs = create_api_key(merchant_id=other.public_id, mode="test", key_type="secret")
        with pytest.raises(MerchantNotFoundError):
            roll_api_key(merchant_id=merchant.public_id, key_id=theirs.summary.key_id)
        with pytest.raises(MerchantNotFoundError):
            revoke_api_key(merchant_id=merchant.public_id, key_id=theirs.summary.key_id)
        assert authenticate_api_key(raw_key=theirs.secret).merchant_id == other.public_id


class TestListApiKeys:
    def test_lists_only_the_merchants_own_keys_without_secrets(self, merchant):
        mine = create_api_key(merchant_id=merchant.public_id, mode="test", key_type="secret")
        create_api_key(merchant_id=MerchantFactory().public_id, mode="test", key_type="secret")
        keys = list_api_keys(merchant_id=merchant.public_id)
        assert [key.key_id for key in keys] == [mine.summary.key_id]
        assert mine.secret not in repr(keys)
