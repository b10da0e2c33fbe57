import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.payments.connectors.simulator import clear_simulator_fault
from apps.payments.tests.webhook_receiver import Receiver

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _no_simulator_faults() -> Iterator[None]:
    """No simulator fault is armed when a payments test starts, nor left armed after it."""
    clear_simulator_fault()
    yield
    clear_simulator_fault()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def localstripe_url() -> Iterator[str]:
    """A localstripe server on loopback for this test session, stopped at the end."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "apps.payments.tests.localstripe_server", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("localstripe did not start") from None
            time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def merchant_id(db):
    """An active merchant with the default card price (2.9 % + 30 in EUR), made by model label:
    the payments app reaches apps.merchants only through its facade, even in tests."""
    from decimal import Decimal

    from django.apps import apps
    from django.utils import timezone

    from apps.common.ids import make_public_id

    merchant = apps.get_model("merchants", "Merchant").objects.create(
        public_id=make_public_id(prefix="mch"),
        legal_name="Payments Test S.r.l.",
        trading_name="Payments Shop",
        country="IT",
        settlement_currency="EUR",
        support_email="support@payments.example",
        status="active",
        created_at=timezone.now(),
    )
    apps.get_model("merchants", "PriceListEntry").objects.update_or_create(
        merchant=None,
        currency="EUR",
        payment_method="card",
        defaults={
            "percentage": Decimal("2.9"),
            "fixed_fee_minor": 30,
            "updated_at": timezone.now(),
        },
    )
    return merchant.public_id


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook endpoint on 127.0.0.1 recording what it receives, stopped after the test."""
    receiver = Receiver()
    yield receiver
    receiver.stop()
