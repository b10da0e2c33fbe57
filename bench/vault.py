"""The vault benchmark: what tokenizing and detokenizing a card cost, against the storage floor.

``vault_tokenize`` (ops/s), ``vault_tokenize_p50`` and ``vault_tokenize_p99`` (ms)
    ``tokenize_card`` called from one thread with a fresh random Visa number and a CVC each
    time: merchant check (cached per process), validation, fingerprint HMAC, AES-GCM seal, DEK
    wrap, and one statement that share-locks the active key version and inserts the record and
    its token, then the sealed CVC written to Redis. The baseline is the naive storage floor:
    the same two rows (random bytes for the envelope) created through the ORM in one
    transaction plus one Redis ``SET``, with no validation and no crypto (tokenize can beat it:
    it makes one round trip where the ORM makes four).

``vault_detokenize`` (ops/s), ``vault_detokenize_p50`` and ``vault_detokenize_p99`` (ms)
    ``detokenize_for_authorization`` of each token just made: token locked and consumed, the
    hash-chained audit entry, DEK unwrap, AES-GCM open, CVC ``GETDEL``. The baseline locks and
    consumes a token and reads its record and a Redis key the same way, with no audit entry
    and no crypto.

The vault runs on a throwaway keyring in a temporary directory, never the machine's own.
Targets on the reference machine: p99 under 5 ms (tokenize) and 3 ms (detokenize).
"""

from __future__ import annotations

import random
import secrets
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from django.db import transaction
from django.test import override_settings

from apps.common.clock import get_now
from apps.common.ids import make_public_id
from apps.common.logging import passes_luhn
from apps.merchants.services import create_merchant
from apps.tokenization.crypto import reset_key_provider
from apps.tokenization.cvc import get_cvc_redis
from apps.tokenization.facade import detokenize_for_authorization, tokenize_card
from apps.tokenization.models import CardToken, VaultRecord
from apps.tokenization.selectors import get_active_key_version
from bench.harness.figures import Figure
from bench.harness.http_load import LoadResult

OPERATIONS = 3_000
WARM_UP = 300
TOKENIZE_P99_TARGET_MS = 5.0
DETOKENIZE_P99_TARGET_MS = 3.0


@contextmanager
def throwaway_keyring() -> Iterator[None]:
    with (
        tempfile.TemporaryDirectory(prefix="paymenthub-bench-vault-") as directory,
        override_settings(
            VAULT_LOCAL_KEYRING_FILE=Path(directory) / "keyring.json",
            VAULT_LOCAL_KEYRING_AUTOCREATE=True,
            VAULT_KEYRING_ENV_VAR="PAYMENTHUB_BENCH_VAULT_KEYRING_UNUSED",
        ),
    ):
        reset_key_provider()
        try:
            yield
        finally:
            reset_key_provider()


def make_card_number(*, rng: random.Random) -> str:
    body = "4" + "".join(str(rng.randrange(10)) for _ in range(14))
    return next(body + check for check in "0123456789" if passes_luhn(digits=body + check))


def time_calls(*, count: int, call: Callable[[int], object]) -> LoadResult:
    latencies: list[float] = []
    started = time.perf_counter()
    for index in range(count):
        before = time.perf_counter()
        call(index)
        latencies.append((time.perf_counter() - before) * 1000)
    return LoadResult(
        requests=count, errors=0, seconds=time.perf_counter() - started, latencies_ms=latencies
    )


def report(*, label: str, result: LoadResult) -> None:
    print(
        f"  {label:<22} {result.requests_per_second:9.1f} ops/s  "
        f"p50 {result.get_percentile_ms(percent=50):6.3f} ms  "
        f"p99 {result.get_percentile_ms(percent=99):6.3f} ms  ({result.requests} calls)",
        flush=True,
    )


def figures(*, name: str, result: LoadResult, baseline: LoadResult) -> list[Figure]:
    return [
        Figure(name, result.requests_per_second, "ops/s", baseline.requests_per_second),
        Figure(
            f"{name}_p50",
            result.get_percentile_ms(percent=50),
            "ms",
            baseline.get_percentile_ms(percent=50),
        ),
        Figure(
            f"{name}_p99",
            result.get_percentile_ms(percent=99),
            "ms",
            baseline.get_percentile_ms(percent=99),
        ),
    ]


# --- the vault --------------------------------------------------------------------------


def tokenize_many(
    *, merchant_id: str, count: int, rng: random.Random
) -> tuple[LoadResult, list[str]]:
    numbers = [make_card_number(rng=rng) for _ in range(count)]
    token_ids: list[str] = []

    def call(index: int) -> None:
        token = tokenize_card(
            merchant_id=merchant_id,
            mode="test",
            number=numbers[index],
            exp_month=12,
            exp_year=2035,
            cvc="123",
        )
        token_ids.append(token.id)

    return time_calls(count=count, call=call), token_ids


def detokenize_many(*, merchant_id: str, token_ids: list[str]) -> LoadResult:
    def call(index: int) -> None:
        card = detokenize_for_authorization(
            token_or_payment_method_id=token_ids[index],
            merchant_id=merchant_id,
            mode="test",
            connector_name="bench",
            reason="benchmark",
            payment_ref="pay_bench",
        )
        if card.cvc != "123":
            raise RuntimeError("the CVC did not come back")

    return time_calls(count=len(token_ids), call=call)


# --- the storage floor --------------------------------------------------------------------


def store_many(*, merchant_id: str, count: int) -> tuple[LoadResult, list[str]]:
    redis = get_cvc_redis()
    kek_version = get_active_key_version()
    token_ids: list[str] = []

    def call(index: int) -> None:
        now = get_now()
        record_id = uuid.uuid4()
        with transaction.atomic():
            record = VaultRecord.objects.create(
                record_id=record_id,
                merchant_id=merchant_id,
                fingerprint="a" * 32,
                brand="visa",
                funding="unknown",
                last4="4242",
                exp_month=12,
                exp_year=2035,
                kek_version_id=kek_version,
                wrapped_data_key=secrets.token_bytes(60),
                nonce=secrets.token_bytes(12),
                ciphertext=secrets.token_bytes(33),
                created_at=now,
            )
            token = CardToken.objects.create(
                public_id=make_public_id(prefix="tok"),
                merchant_id=merchant_id,
                mode="test",
                record=record,
                created_at=now,
                expires_at=now + timedelta(minutes=30),
            )
        redis.set(f"ph:bench:floor:{record_id}", secrets.token_bytes(31), ex=600)
        token_ids.append(token.public_id)

    return time_calls(count=count, call=call), token_ids


def read_many(*, token_ids: list[str]) -> LoadResult:
    redis = get_cvc_redis()

    def call(index: int) -> None:
        with transaction.atomic():
            token = (
                CardToken.objects.select_for_update(of=("self",))
                .select_related("record")
                .get(public_id=token_ids[index])
            )
            token.used_at = get_now()
            token.used_for = "authorization"
            token.save(update_fields=["used_at", "used_for"])
        record = VaultRecord.objects.get(pk=token.record_id)
        redis.getdel(f"ph:bench:floor:{record.record_id}")

    return time_calls(count=len(token_ids), call=call)


def run() -> list[Figure]:
    rng = random.Random(20_240_601)
    with throwaway_keyring():
        merchant_id = create_merchant(
            legal_name="Bench Vault S.r.l.",
            trading_name="Bench Vault",
            country="IT",
            settlement_currency="EUR",
            support_email="bench@vault.example",
            status="active",
        ).public_id
        print(f"vault: {WARM_UP} warm-up calls, then {OPERATIONS} calls each, one thread")
        _, warm_tokens = tokenize_many(merchant_id=merchant_id, count=WARM_UP, rng=rng)
        detokenize_many(merchant_id=merchant_id, token_ids=warm_tokens)
        _, warm_floor = store_many(merchant_id=merchant_id, count=WARM_UP)
        read_many(token_ids=warm_floor)

        floor_store, floor_tokens = store_many(merchant_id=merchant_id, count=OPERATIONS)
        report(label="storage floor (write)", result=floor_store)
        tokenize, token_ids = tokenize_many(merchant_id=merchant_id, count=OPERATIONS, rng=rng)
        report(label="tokenize_card", result=tokenize)
        floor_read = read_many(token_ids=floor_tokens)
        report(label="storage floor (read)", result=floor_read)
        detokenize = detokenize_many(merchant_id=merchant_id, token_ids=token_ids)
        report(label="detokenize", result=detokenize)

    for label, result, target in (
        ("tokenize", tokenize, TOKENIZE_P99_TARGET_MS),
        ("detokenize", detokenize, DETOKENIZE_P99_TARGET_MS),
    ):
        p99 = result.get_percentile_ms(percent=99)
        verdict = "meets" if p99 < target else "MISSES"
        print(f"  {label} p99 {p99:.3f} ms {verdict} the {target:.0f} ms target", flush=True)
    return [
        *figures(name="vault_tokenize", result=tokenize, baseline=floor_store),
        *figures(name="vault_detokenize", result=detokenize, baseline=floor_read),
    ]
