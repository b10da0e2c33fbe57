"""The README's first command, `python -m paymenthub.cli run` (`make run`), on a fresh checkout:
web, Celery worker and beat and the demo merchant come up, and the demo merchant's test key
takes a card payment end to end (the vault's keyring is made on the way, the outbox relayed
by the worker).

It runs against a throwaway database on the machine's PostgreSQL, a Redis database of its
own and a `var/` directory under the test's temporary directory, on free loopback ports, and
stops everything it started.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bench.harness.database import create_database, drop_database
from bench.harness.gunicorn import find_free_port
from paymenthub.settings.env import with_redis_db

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_SECONDS = 180
pytestmark = pytest.mark.slow


@pytest.fixture
def throwaway_database() -> Iterator[str]:
    server = os.environ.get("DATABASE_URL")
    if not server:
        pytest.skip("needs DATABASE_URL (the test command provides it)")
    name = f"paymenthub_run_{os.getpid()}"
    try:
        yield create_database(server_url=server, name=name)
    finally:
        drop_database(server_url=server, name=name)


def _request(
    port: int, method: str, path: str, *, body: dict[str, Any] | None = None, key: str = ""
) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json", "Host": "127.0.0.1"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    try:
        connection.request(method, path, body=json.dumps(body) if body else None, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def _wait_for_secret_key(*, log: Path, process: subprocess.Popen[bytes], port: int) -> str:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if process.poll() is not None:
            raise AssertionError(f"`run` exited with {process.returncode}:\n{text[-3000:]}")
        found = re.search(r"Test secret key\s+(sk_test_\w+)", text)
        if found and "web on http://" in text:
            try:
                status, _ = _request(port, "GET", "/healthz")
            except OSError:
                status = 0
            if status == 200:
                return found.group(1)
        time.sleep(0.5)
    raise AssertionError(f"`run` did not come up in time:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends: `run` stops honcho's children
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_until_relayed(*, database_url: str, payment_id: str) -> None:
    """The worker (kicked on commit, or by beat) relays the payment's events."""
    deadline = time.monotonic() + 60
    with psycopg.connect(database_url, autocommit=True) as connection:
        while True:
            row = connection.execute(
                "SELECT count(*) FILTER (WHERE dispatched_at IS NULL), count(*) "
                "FROM common_outbox_event WHERE aggregate_id = %s",
                [payment_id],
            ).fetchone()
            assert row is not None
            pending, total = row
            if total and not pending:
                return
            assert time.monotonic() < deadline, f"{pending} of {total} events never relayed"
            time.sleep(0.5)


def test_the_run_command_brings_up_a_platform_that_takes_a_card_payment(
    throwaway_database, tmp_path
):
    port = find_free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {"CELERY_BROKER_URL", "PAYMENTHUB_SERVICES_ENV_FILE", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DATABASE_URL=throwaway_database,
        REDIS_URL=with_redis_db(url=os.environ["REDIS_URL"], db=12),
        PAYMENTHUB_VAR_DIR=str(tmp_path / "var"),
        OPENBANKING_SANDBOX_PORT=str(find_free_port()),
    )
    log = tmp_path / "run.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "paymenthub.cli", "run", "--bind", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        key = _wait_for_secret_key(log=log, process=process, port=port)

        status, token = _request(
            port,
            "POST",
            "/v1/tokens",
            key=key,
            body={
                "card": {
                    "number": "4242424242424242",
                    "exp_month": 12,
                    "exp_year": 2040,
                    "cvc": "123",
                }
            },
        )
        assert status == 201, token
        status, payment = _request(
            port,
            "POST",
            "/v1/payments",
            key=key,
            body={
                "amount": 2500,
                "currency": "EUR",
                "payment_method": token["id"],
                "confirm": True,
            },
        )
        assert status == 200, payment
        assert payment["status"] == "succeeded"
        assert payment["amount_received"] == 2500
        _wait_until_relayed(database_url=throwaway_database, payment_id=payment["id"])
        status, events = _request(port, "GET", "/v1/events?type=payment.succeeded", key=key)
        assert status == 200, events
        assert [event["data"]["object"]["id"] for event in events["data"]] == [payment["id"]]
    finally:
        _stop(process)

    keyring = tmp_path / "var" / "vault" / "keyring.json"
    assert keyring.exists()
    assert keyring.stat().st_mode & 0o777 == 0o600
    assert "4242424242424242" not in log.read_text(errors="replace")
