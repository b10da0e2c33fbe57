"""Key rotation: without downtime, resumable after a kill, and the old version retired."""

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from apps.tokenization.crypto import get_key_provider, open_card
from apps.tokenization.facade import (
    create_payment_method_from_token,
    delete_payment_method,
    detokenize_for_authorization,
    rotate_keys,
    tokenize_card,
)
from apps.tokenization.models import KeyVersionState, VaultKeyVersion, VaultRecord
from apps.tokenization.selectors import count_records_by_key_version, get_active_key_version
from apps.tokenization.tests.factories import make_card_number, next_year

ROOT = Path(__file__).resolve().parents[3]


def save_card(merchant, number, cvc="123"):
    token = tokenize_card(
        merchant_id=merchant.public_id,
        mode="test",
        number=number,
        exp_month=12,
        exp_year=next_year(),
        cvc=cvc,
    )
    return create_payment_method_from_token(
        merchant_id=merchant.public_id, mode="test", token_id=token.id, customer_ref="cus_rotation"
    )


def detokenize(merchant, source_id):
    return detokenize_for_authorization(
        token_or_payment_method_id=source_id,
        merchant_id=merchant.public_id,
        mode="test",
        connector_name="simulator",
        reason="authorization",
        payment_ref="pay_rotation",
    )


def assert_every_row_decrypts(expected_numbers=None):
    records = VaultRecord.objects.filter(shredded_at__isnull=True).select_related("payment_method")
    assert records.exists()
    for record in records:
        opened = open_card(
            record_id=record.record_id,
            kek_version=record.kek_version_id,
            wrapped_data_key=bytes(record.wrapped_data_key),
            nonce=bytes(record.nonce),
            ciphertext=bytes(record.ciphertext),
        )
        if expected_numbers is not None and hasattr(record, "payment_method"):
            expected = expected_numbers.get(record.payment_method.public_id)
            if expected is not None:
                assert opened.number == expected


def assert_rotated_away_from(old_version):
    new_version = get_active_key_version()
    assert new_version != old_version
    assert count_records_by_key_version() == {
        new_version: VaultRecord.objects.filter(shredded_at__isnull=True).count()
    }
    assert VaultKeyVersion.objects.get(version=old_version).state == KeyVersionState.RETIRED
    assert old_version not in get_key_provider().list_kek_versions()


class VaultLoad:
    """Real threads tokenizing, saving and detokenizing while a rotation runs."""

    def __init__(self, *, merchant, saved, threads=4, seed=None):
        self.merchant = merchant
        self.saved = dict(saved)  # payment method id -> number
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.errors = []
        self.calls = 0
        self.seed = seed if seed is not None else random.randrange(1_000_000)
        self.threads = [
            threading.Thread(target=self._run, args=(index,), daemon=True)
            for index in range(threads)
        ]

    def _run(self, index):
        rng = random.Random(self.seed + index)
        try:
            while not self.stop.is_set():
                try:
                    if index % 2 == 0:
                        number = make_card_number(rng=rng)
                        token = tokenize_card(
                            merchant_id=self.merchant.public_id,
                            mode="test",
                            number=number,
                            exp_month=12,
                            exp_year=next_year(),
                            cvc="123",
                        )
                        card = detokenize(self.merchant, token.id)
                        assert (card.number, card.cvc) == (number, "123")
                    else:
                        with self.lock:
                            method_id, number = rng.choice(sorted(self.saved.items()))
                        assert detokenize(self.merchant, method_id).number == number
                    with self.lock:
                        self.calls += 1
                except Exception as exc:  # every failure is a finding
                    with self.lock:
                        self.errors.append(repr(exc))
        finally:
            connection.close()

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        time.sleep(0.3)
        return self

    def __exit__(self, *exc_info):
        time.sleep(0.3)
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def assert_no_failed_call(self):
        assert self.errors == [], f"seed {self.seed}: {self.errors[:5]}"
        assert self.calls > 20, f"seed {self.seed}: only {self.calls} calls"


@pytest.fixture
def saved_cards(merchant):
    rng = random.Random(7)
    numbers = [make_card_number(rng=rng) for _ in range(120)]
    return {save_card(merchant, number).id: number for number in numbers}


@pytest.mark.django_db
class TestRotateKeys:
    def test_moves_every_row_to_a_new_version_and_retires_the_old(self, merchant):
        method = save_card(merchant, "4242424242424242")
        old_version = get_active_key_version()
        report = rotate_keys(batch_size=10)
        assert report.completed
        assert report.rewrapped == 1
        assert report.retired_versions == (old_version,)
        assert_rotated_away_from(old_version)
        assert detokenize(merchant, method.id).number == "4242424242424242"

    def test_does_not_touch_the_card_ciphertext(self, merchant):
        save_card(merchant, "4242424242424242")
        before = VaultRecord.objects.values_list("ciphertext", "wrapped_data_key").get()
        rotate_keys()
        after = VaultRecord.objects.values_list("ciphertext", "wrapped_data_key").get()
        assert bytes(after[0]) == bytes(before[0])
        assert bytes(after[1]) != bytes(before[1])

    def test_a_bounded_run_leaves_the_rest_for_a_resume(self, merchant):
        for _ in range(25):
            save_card(merchant, make_card_number())
        old_version = get_active_key_version()
        first = rotate_keys(batch_size=10, max_batches=1)
        assert (first.rewrapped, first.remaining, first.retired_versions) == (10, 15, ())
        assert (
            VaultKeyVersion.objects.get(version=old_version).state == KeyVersionState.DECRYPT_ONLY
        )
        assert_every_row_decrypts()
        second = rotate_keys(start_new_version=False, batch_size=10)
        assert (second.rewrapped, second.remaining) == (15, 0)
        assert_rotated_away_from(old_version)

    def test_shredded_cards_are_not_in_the_way(self, merchant):
        kept = save_card(merchant, "4242424242424242")
        deleted = save_card(merchant, "5555555555554444")
        delete_payment_method(
            merchant_id=merchant.public_id, mode="test", payment_method_id=deleted.id
        )
        old_version = get_active_key_version()
        assert rotate_keys().completed
        assert_rotated_away_from(old_version)
        assert detokenize(merchant, kept.id).number == "4242424242424242"

    def test_the_command_rotates_and_resumes(self, merchant, capsys):
        for _ in range(5):
            save_card(merchant, make_card_number())
        old_version = get_active_key_version()
        call_command("rotate_vault_keys", batch_size=2, max_batches=1)
        assert "run again with --resume" in capsys.readouterr().out
        call_command("rotate_vault_keys", resume=True)
        assert f"retired [{old_version}]" in capsys.readouterr().out
        assert_rotated_away_from(old_version)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
class TestRotationUnderLoad:
    def test_killed_halfway_and_resumed_no_call_fails_and_every_row_moves(
        self, merchant, saved_cards
    ):
        old_version = get_active_key_version()
        with VaultLoad(merchant=merchant, saved=saved_cards) as load:
            # The job "dies" after three batches: a bounded run stands for the kill.
            first = rotate_keys(batch_size=10, max_batches=3, pause_seconds=0.05)
            assert first.remaining > 0
            assert first.retired_versions == ()
            time.sleep(0.3)  # load goes on with rows on both versions
            second = rotate_keys(start_new_version=False, batch_size=10, pause_seconds=0.01)
            assert second.completed
        load.assert_no_failed_call()
        assert_rotated_away_from(old_version)
        assert_every_row_decrypts(saved_cards)

    def test_a_sigkilled_rotation_process_is_resumed(self, merchant, saved_cards):
        old_version = get_active_key_version()
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "paymenthub.settings.test",
            "DATABASE_URL": _url_of_test_database(),
        }
        with VaultLoad(merchant=merchant, saved=saved_cards) as load:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "rotate_vault_keys",
                    "--batch-size",
                    "5",
                    "--pause",
                    "0.05",
                ],
                cwd=ROOT,
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            try:
                _wait_until_partly_rewrapped(old_version=old_version, process=process)
            finally:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)
            assert process.returncode == -signal.SIGKILL
            left = VaultRecord.objects.filter(kek_version=old_version).count()
            assert left > 0, "the kill came too late to prove anything"
            report = rotate_keys(start_new_version=False, batch_size=10)
            assert report.completed
        load.assert_no_failed_call()
        assert_rotated_away_from(old_version)
        assert_every_row_decrypts(saved_cards)


def _url_of_test_database():
    settings_dict = connection.settings_dict
    user = settings_dict["USER"] or ""
    password = f":{settings_dict['PASSWORD']}" if settings_dict["PASSWORD"] else ""
    host = settings_dict["HOST"] or "127.0.0.1"
    port = settings_dict["PORT"] or "5432"
    return f"postgresql://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


def _wait_until_partly_rewrapped(*, old_version, process, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"rotation ended early: {process.stderr.read().decode()}")
        active = get_active_key_version()
        if active != old_version and VaultRecord.objects.filter(kek_version=active).count() >= 40:
            return
        time.sleep(0.02)
    raise AssertionError("the rotation process made no progress")


@pytest.mark.django_db
class TestRotationTasks:
    def test_the_resume_task_finishes_a_started_rotation(self, merchant):
        from apps.tokenization.services import start_key_rotation
        from apps.tokenization.tasks import resume_vault_key_rotation

        method = save_card(merchant, "4242424242424242")
        old_version = get_active_key_version()
        start_key_rotation()
        assert resume_vault_key_rotation.run() == 1
        assert_rotated_away_from(old_version)
        assert detokenize(merchant, method.id).number == "4242424242424242"
