"""No card data anywhere but in the vault's ciphertext.

Runs payment-like flows with sentinel card numbers and CVCs through the real API (tokenize
with several brands, save payment methods, detokenize for authorization, crash in a vault
view, crash elsewhere with a card number in a local variable), then scans everything the
platform wrote: a ``pg_dump`` of the database, every key and value of the Redis databases it
uses, the log lines as the configured handler formats them, the admin error mails and the
DEBUG 500 page. No Luhn-valid 13-19 digit run may appear, nor any CVC sentinel.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess

import pytest
import redis
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import Client, override_settings

from apps.common.logging import mask_card_numbers
from apps.merchants.facade import create_api_key
from apps.tokenization.api import views as token_views
from apps.tokenization.facade import detokenize_for_authorization
from apps.tokenization.tests.factories import MerchantFactory, make_card_number, next_year

# Numbers no other test uses, made once per run; CVCs that are easy to find and hard to hit by
# chance (never next to another letter or digit in what we scan).
SENTINEL_CARDS = [
    ("visa", make_card_number(prefix="4", length=16), "947"),
    ("mastercard", make_card_number(prefix="2720", length=16), "583"),
    ("amex", make_card_number(prefix="37", length=15), "6284"),
    ("discover", make_card_number(prefix="6011", length=16), "716"),
    ("jcb", make_card_number(prefix="3566", length=16), "859"),
]
SENTINEL_CVCS = [cvc for _, _, cvc in SENTINEL_CARDS]


def _cvc_pattern(cvc: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![0-9A-Za-z]){cvc}(?![0-9A-Za-z])")


def find_card_data(*, text: str) -> list[str]:
    """Luhn-valid 13-19 digit runs (spaces or dashes between digits allowed) and CVC
    sentinels found in ``text``."""
    found = []
    if mask_card_numbers(text) != text:
        found.append("a Luhn-valid card number")
    found.extend(f"CVC {cvc}" for cvc in SENTINEL_CVCS if _cvc_pattern(cvc).search(text))
    return found


def dump_database() -> str:
    db = connection.settings_dict
    environment = {**os.environ, "PGOPTIONS": "-c bytea_output=escape"}
    if db.get("PASSWORD"):
        environment["PGPASSWORD"] = str(db["PASSWORD"])
    command = ["pg_dump", "--data-only", "--no-owner", "--dbname", str(db["NAME"])]
    for option, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if db.get(key):
            command += [option, str(db[key])]
    result = subprocess.run(command, capture_output=True, env=environment, check=True)
    return result.stdout.decode("utf-8", errors="replace")


def read_redis() -> tuple[str, int]:
    """Every key and value of the cache and CVC databases written by this run (or by nobody
    in particular: keys outside any test run's namespace), as text; and how many CVC keys."""
    prefixes = (str(settings.CACHES["default"]["KEY_PREFIX"]), settings.VAULT_CVC_KEY_PREFIX)
    chunks, cvc_keys = [], 0
    for alias in ("default", settings.VAULT_CVC_CACHE_ALIAS):
        client = redis.Redis.from_url(str(settings.CACHES[alias]["LOCATION"]))
        try:
            for key in client.scan_iter(count=1000):
                name = key.decode("latin-1")
                if name.startswith("test-") and not name.startswith(prefixes):
                    continue  # another test run's namespace
                cvc_keys += name.startswith(settings.VAULT_CVC_KEY_PREFIX)
                chunks.append(name)
                chunks.append(_redis_value_as_text(client, key))
        finally:
            client.close()
    return "\n".join(chunks), cvc_keys


def _redis_value_as_text(client: redis.Redis, key: bytes) -> str:
    kind = client.type(key).decode()
    if kind == "string":
        value = client.get(key) or b""
        return value.decode("latin-1")
    if kind == "hash":
        items = client.hgetall(key).items()
        return " ".join(k.decode("latin-1") + "=" + v.decode("latin-1") for k, v in items)
    if kind in {"list"}:
        return " ".join(v.decode("latin-1") for v in client.lrange(key, 0, -1))
    if kind in {"set"}:
        return " ".join(v.decode("latin-1") for v in client.smembers(key))
    if kind == "zset":
        return " ".join(v.decode("latin-1") for v in client.zrange(key, 0, -1))
    return (client.dump(key) or b"").decode("latin-1")


@pytest.fixture
def formatted_logs():
    """Log lines exactly as the configured console handler writes them (its filters and its
    formatter), captured from the root logger."""
    root = logging.getLogger()
    console = next(handler for handler in root.handlers if handler.get_name() == "console")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(console.formatter)
    for log_filter in console.filters:
        handler.addFilter(log_filter)
    handler.setLevel(logging.DEBUG)
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


def api(key: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {key}"}, raise_request_exception=False)


def post_json(client: Client, path: str, payload: dict, **headers: str):
    return client.post(
        path, data=json.dumps(payload), content_type="application/json", headers=headers
    )


@pytest.mark.django_db(transaction=True)
@override_settings(
    ROOT_URLCONF="apps.tokenization.tests.leaky_urls",
    ADMINS=[("Ops", "ops@paymenthub.test")],
    EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
)
def test_no_card_number_or_cvc_survives_anywhere_but_in_vault_ciphertext(
    formatted_logs, caplog, monkeypatch
):
    caplog.set_level(logging.INFO)
    merchant = MerchantFactory.create()
    publishable = create_api_key(
        merchant_id=merchant.public_id, mode="test", key_type="publishable"
    )
    secret = create_api_key(merchant_id=merchant.public_id, mode="test", key_type="secret")
    browser, server = api(publishable.secret), api(secret.secret)
    logging.getLogger("apps.tokenization.tests").info(
        "tokenizing %d sentinel cards", len(SENTINEL_CARDS)
    )

    # 1. Tokenize every sentinel card from the "browser"; save some, authorize the others.
    tokens = []
    for index, (brand, number, cvc) in enumerate(SENTINEL_CARDS):
        card = {"number": number, "exp_month": 7, "exp_year": next_year(), "cvc": cvc}
        response = post_json(
            browser,
            "/v1/tokens",
            {"card": {**card, "name": "Ada Lovelace"}},
            **{"Idempotency-Key": f"leak-scan-{index}", "Origin": settings.CHECKOUT_ORIGIN},
        )
        assert response.status_code == 201, response.content
        assert response.json()["card"]["brand"] == brand
        tokens.append(response.json()["id"])
    # A refused card is logged nowhere with its number either.
    refused = post_json(
        browser, "/v1/tokens", {"card": {"number": SENTINEL_CARDS[0][1][:-1] + "0", "cvc": "947"}}
    )
    assert refused.status_code in {400, 402}

    saved = post_json(server, "/v1/payment_methods", {"token": tokens[0], "customer": "cus_ada"})
    assert saved.status_code == 201
    payment_method_id = saved.json()["id"]
    for source_id in (payment_method_id, tokens[1], tokens[2]):
        card = detokenize_for_authorization(
            token_or_payment_method_id=source_id,
            merchant_id=merchant.public_id,
            connector_name="simulator",
            reason="authorization",
            payment_ref="pay_leakscan",
        )
        assert card.number in {number for _, number, _ in SENTINEL_CARDS}
        logging.getLogger("apps.payments.connectors").info("charging card %r", card)
    # tokens[3] and tokens[4] stay unused: their sealed CVCs are still in Redis.

    # 2. Crashes with card data in hand: inside the vault's API, inside a vault-prefixed view,
    # and elsewhere with a card number in a local variable and in the exception message.
    def explode(**kwargs):
        raise RuntimeError("the vault's database went away")

    monkeypatch.setattr(token_views, "tokenize_card", explode)
    number, cvc = SENTINEL_CARDS[3][1], SENTINEL_CARDS[3][2]
    crashed = post_json(
        browser,
        "/v1/tokens",
        {"card": {"number": number, "exp_month": 7, "exp_year": next_year(), "cvc": cvc}},
    )
    assert crashed.status_code == 500
    vault_crash = Client(raise_request_exception=False).post(
        "/v1/tokens-test-only/crash", {"number": number, "cvc": cvc}
    )
    assert vault_crash.status_code == 500
    careless_crash = Client(raise_request_exception=False).post(
        "/test-only/crash", {"card_number": SENTINEL_CARDS[4][1]}
    )
    assert careless_crash.status_code == 500
    with override_settings(DEBUG=True):
        debug_page = Client(raise_request_exception=False).post(
            "/test-only/crash", {"card_number": SENTINEL_CARDS[4][1]}
        )
        debug_vault_page = Client(raise_request_exception=False).post(
            "/v1/tokens-test-only/crash", {"number": number, "cvc": cvc}
        )
    assert debug_page.status_code == debug_vault_page.status_code == 500
    assert "processor exploded" in debug_page.content.decode()  # the real technical page

    # 3. Scan everything that was written.
    database = dump_database()
    redis_text, cvc_keys = read_redis()
    logs = formatted_logs.getvalue()
    mails = "\n".join(f"{m.subject}\n{m.body}" for m in mail.outbox)
    pages = "\n".join(
        r.content.decode("utf-8", errors="replace")
        for r in (crashed, vault_crash, careless_crash, debug_page, debug_vault_page, refused)
    )

    # The scan looked at real data, not at an empty dump or an empty log.
    assert tokens[3] in database
    assert cvc_keys >= 2, "the unused tokens' sealed CVCs should be in Redis"
    assert "Internal Server Error: /test-only/crash" in logs
    assert "unexpected error while handling API request" in logs
    assert "processor exploded" in mails
    assert any("Internal Server Error" in r.getMessage() for r in caplog.records)

    leaks = {
        place: find_card_data(text=text)
        for place, text in {
            "database (pg_dump)": database,
            "redis": redis_text,
            "logs": logs,
            "error mails": mails,
            "error pages": pages,
        }.items()
    }
    assert leaks == {place: [] for place in leaks}, leaks


def test_the_scan_itself_finds_a_card_number_and_a_cvc():
    number = SENTINEL_CARDS[0][1]
    assert find_card_data(text=f"paid with {number}") == ["a Luhn-valid card number"]
    spaced = " ".join(number[i : i + 4] for i in range(0, 16, 4))
    assert find_card_data(text=f"card {spaced}") == ["a Luhn-valid card number"]
    assert find_card_data(text='{"cvc": "947"}') == ["CVC 947"]
    assert find_card_data(text="a947b 19470 ts 2026-11-24 12:00:00.947123") == []
