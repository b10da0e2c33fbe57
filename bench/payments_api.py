"""The payments API benchmark: create + confirm payments per second through the real stack.

``payments_api_c1``, ``payments_api_c8``, ``payments_api_c32`` (payments/s) and
``payments_api_c8_p50`` / ``payments_api_c8_p99`` (ms)
    A real gunicorn (gthread, 2 workers x 4 threads) serves :mod:`bench.settings`; keep-alive
    client threads (1, 8 and 32 of them, a 1 s warm-up then 6 s each) POST
    ``/v1/payments`` with ``confirm=true`` and a saved payment method, authenticated by a
    secret test key: each request validates, runs the risk check, detokenizes the card
    (audited), authorizes and captures on the simulator connector, posts the capture to the
    ledger and writes the outbox events, through reserve → call → record.

The baseline is the foundation's trivial-insert endpoint (``/v1/_bench/probes``) driven by the
same server and client at concurrency 8 in the same run; the ratio of ``payments_api_c8`` is
payments ÷ that baseline (goal: at least 0.5, with p99 under 50 ms at concurrency 8).

``payments_api_c8_cpu`` (ms), ``payments_api_c8_cpu_web`` and ``payments_api_c8_cpu_postgres``
    The machine's CPU per payment at concurrency 8, over exactly the measured window
    (:mod:`bench.harness.cpu`): all of it, then the gunicorn workers' and PostgreSQL's share
    (a part whose processes are not on this machine is left out). The baseline is the same
    reading per trivial insert, so the ratio says how many inserts' worth of CPU one payment
    costs: when both sides keep the machine's cores busy, the throughput ratio is close to
    its inverse.

``payments_api_c8_busy`` (%)
    How busy the machine's cores were while payments ran at concurrency 8, against the same
    while the baseline ran: 100 % means the CPU was the limit. A side well below 100 % was
    held back by something else (a lock, the disk, the client, a worker left without
    connections), and the throughput ratio then says less about what a payment costs.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.test import override_settings

from apps.payments.models import Payment
from apps.tokenization.crypto import reset_key_provider
from bench.harness.cpu import (
    POSTGRES,
    WEB,
    CpuPerRequest,
    CpuReading,
    compute_cpu_per_request,
    read_cpu,
)
from bench.harness.figures import Figure
from bench.harness.gunicorn import ServerAddress, serve_with_gunicorn
from bench.harness.http_load import LoadPlan, LoadResult, drive_load
from bench.harness.seeding import seed_card_merchant

INSERT_PATH = "/v1/_bench/probes"
PAYMENTS_PATH = "/v1/payments"
CONCURRENCY_LEVELS = (1, 8, 32)


def seed_merchant() -> tuple[str, str]:
    """An active merchant with the default card price, a test secret key and a saved card."""
    merchant = seed_card_merchant(
        name="Bench Payments", customer_ref="cus_bench", support_email="bench@shop.example"
    )
    return merchant.secret_key, merchant.payment_method


@dataclass(frozen=True, slots=True)
class MeasuredLoad:
    result: LoadResult
    cpu: CpuPerRequest


def drive(
    *,
    address: ServerAddress,
    path: str,
    body: bytes,
    expected: int,
    concurrency: int,
    headers: dict[str, str] | None = None,
    label: str,
) -> MeasuredLoad:
    readings: list[CpuReading] = []
    result = drive_load(
        address=address,
        plan=LoadPlan(
            path=path,
            body=body,
            expected_status=expected,
            concurrency=concurrency,
            headers=headers or {},
        ),
        on_window_edge=lambda: readings.append(read_cpu(server_pid=address.pid)),
    )
    if result.errors or not result.requests:
        raise RuntimeError(f"{label}: {result.errors} errors, {result.requests} good responses")
    before, after = readings
    cpu = compute_cpu_per_request(before=before, after=after, requests=result.requests)
    print(
        f"  {label:<28} {result.requests_per_second:8.1f}/s  "
        f"p50 {result.get_percentile_ms(percent=50):7.2f} ms  "
        f"p99 {result.get_percentile_ms(percent=99):7.2f} ms  ({result.requests} requests, "
        f"{result.describe_connections()})\n"
        f"  {'':<28} CPU per request {cpu.describe()}",
        flush=True,
    )
    return MeasuredLoad(result=result, cpu=cpu)


def run() -> list[Figure]:
    print("payments_api: gunicorn gthread 2x4, keep-alive clients, 1 s warm-up + 6 s", flush=True)
    with tempfile.TemporaryDirectory(prefix="paymenthub-bench-payments-") as directory:
        # One throwaway keyring for this process (seeding) and the gunicorn workers (by env).
        keyring = Path(directory) / "keyring.json"
        os.environ["VAULT_LOCAL_KEYRING_FILE"] = str(keyring)
        with override_settings(
            VAULT_LOCAL_KEYRING_FILE=keyring, VAULT_LOCAL_KEYRING_AUTOCREATE=True
        ):
            reset_key_provider()
            secret, payment_method = seed_merchant()
        reset_key_provider()
        body = json.dumps(
            {"amount": 1999, "currency": "EUR", "payment_method": payment_method, "confirm": True}
        ).encode()
        headers = {"Authorization": f"Bearer {secret}"}
        with serve_with_gunicorn(
            database_url=settings.DATABASE_URL, ready_path="/v1/_bench/echo"
        ) as address:
            baseline = drive(
                address=address,
                path=INSERT_PATH,
                body=b'{"label": "bench"}',
                expected=201,
                concurrency=8,
                label="baseline insert, c=8",
            )
            results = {
                level: drive(
                    address=address,
                    path=PAYMENTS_PATH,
                    body=body,
                    expected=200,
                    concurrency=level,
                    headers=headers,
                    label=f"create+confirm, c={level}",
                )
                for level in CONCURRENCY_LEVELS
            }
    succeeded = Payment.objects.filter(status="succeeded").count()
    if succeeded < sum(measured.result.requests for measured in results.values()):
        raise RuntimeError(f"only {succeeded} payments succeeded")
    c8 = results[8]
    figures = [
        Figure("payments_api_c1", results[1].result.requests_per_second, "payments/s", None),
        Figure(
            "payments_api_c8",
            c8.result.requests_per_second,
            "payments/s",
            baseline.result.requests_per_second,
        ),
        Figure("payments_api_c32", results[32].result.requests_per_second, "payments/s", None),
        Figure(
            "payments_api_c8_p50",
            c8.result.get_percentile_ms(percent=50),
            "ms",
            baseline.result.get_percentile_ms(percent=50),
        ),
        Figure(
            "payments_api_c8_p99",
            c8.result.get_percentile_ms(percent=99),
            "ms",
            baseline.result.get_percentile_ms(percent=99),
        ),
        Figure("payments_api_c8_cpu", c8.cpu.machine_ms, "ms", baseline.cpu.machine_ms),
        Figure(
            "payments_api_c8_busy",
            c8.cpu.machine_busy_percent,
            "%",
            baseline.cpu.machine_busy_percent,
        ),
    ]
    for part, figure_name in (
        (WEB, "payments_api_c8_cpu_web"),
        (POSTGRES, "payments_api_c8_cpu_postgres"),
    ):
        value = c8.cpu.part_ms.get(part)
        if value is not None:
            figures.append(Figure(figure_name, value, "ms", baseline.cpu.part_ms.get(part)))
    return figures
