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
from typing import Any

import pytest
import redis
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import Client, override_settings

from apps.common.logging import mask_card_numbers, passes_luhn
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
    # Not part of a longer word or number, nor the milliseconds of a log timestamp (",947").
    return re.compile(rf"(?<![0-9A-Za-z,.]){cvc}(?![0-9A-Za-z])")


_DIGIT_RUN = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


_HEX_DIGEST = re.compile(r"(?<![0-9A-Za-z])[0-9a-f]{32,}(?![0-9A-Za-z])")
# Unix time in milliseconds (2001-2286: 13 digits starting with 1), as the risk velocity keys in
# Redis and JSON payloads hold it. No card scheme issues a 13-digit number starting with 1
# (13-digit PANs are Visa's, starting with 4), and one in ten such timestamps passes Luhn.
_EPOCH_MILLISECONDS = re.compile(r"(?<![0-9])1[0-9]{12}(?![0-9])")


def _set_aside_digest(match: re.Match[str]) -> str:
    value = match.group(0)
    return "<digest>" if any(char.isalpha() for char in value) else value


# Request ids (``req_`` and 24 hex characters, in logs, idempotency rows and event payloads):
# their digits alone can make a Luhn-valid run. Set aside only when the hex has letters.
_REQUEST_ID = re.compile(r"(?<![0-9A-Za-z])req_([0-9a-f]{16,})(?![0-9A-Za-z])")


def _set_aside_request_id(match: re.Match[str]) -> str:
    return "<request-id>" if any(char.isalpha() for char in match.group(1)) else match.group(0)


def find_card_data(*, text: str) -> list[str]:
    """Luhn-valid 13-19 digit runs (spaces or dashes between digits allowed) and CVC
    sentinels found in ``text``. UUIDs (record ids, in keys and rows), hex digests (hash
    chains, request fingerprints), request ids and millisecond timestamps are set aside
    first: their digit groups can make a Luhn-valid run by chance. A digest is 32+ hex
    characters with letters among them, so a bare card number is never taken for one."""
    text = _HEX_DIGEST.sub(_set_aside_digest, _UUID.sub("<uuid>", text))
    text = _REQUEST_ID.sub(_set_aside_request_id, _EPOCH_MILLISECONDS.sub("<epoch-ms>", text))
    found = []
    for match in _DIGIT_RUN.finditer(text):
        digits = re.sub(r"[ -]", "", match.group(0))
        if 13 <= len(digits) <= 19 and passes_luhn(digits=digits):
            context = text[max(0, match.start() - 60) : match.end() + 20]
            found.append(f"a Luhn-valid card number in {mask_card_numbers(context)!r}")
    for cvc in SENTINEL_CVCS:
        for match in _cvc_pattern(cvc).finditer(text):
            context = text[max(0, match.start() - 60) : match.end() + 20]
            found.append(f"CVC {cvc} in {mask_card_numbers(context)!r}")
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


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, list | tuple | set):
        return " ".join(_text(item) for item in value)
    if isinstance(value, dict):
        return " ".join(f"{_text(k)}={_text(v)}" for k, v in value.items())
    return str(value)


def _redis_value_as_text(client: redis.Redis, key: bytes) -> str:
    kind = _text(client.type(key))
    readers: dict[str, Any] = {
        "string": client.get,
        "hash": client.hgetall,
        "list": lambda name: client.lrange(name, 0, -1),
        "set": client.smembers,
        "zset": lambda name: client.zrange(name, 0, -1),
    }
    return _text(readers.get(kind, client.dump)(key))


def _numeric_fields_set_aside(*, dump: str) -> str:
    """The dump without the values of integer columns and sequence positions: a row id or a
    counter equal to a CVC sentinel is not a CVC. Text, JSON and binary columns stay."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type IN "
            "('smallint', 'integer', 'bigint', 'numeric', 'timestamp with time zone', 'date')"
        )
        numeric = {(table, column) for table, column in cursor.fetchall()}
    lines, skip = [], set()
    for line in dump.splitlines():
        header = _COPY_HEADER.match(line)
        if header:
            table = header.group(1).split(".")[-1].strip('"')
            columns = [c.strip().strip('"') for c in header.group(2).split(",")]
            skip = {i for i, column in enumerate(columns) if (table, column) in numeric}
            lines.append(line)
        elif line == "\\.":
            skip = set()
            lines.append(line)
        elif line.startswith("SELECT pg_catalog.setval("):
            continue
        elif skip:
            fields = line.split("\t")
            lines.append("\t".join("<n>" if i in skip else f for i, f in enumerate(fields)))
        else:
            lines.append(line)
    return "\n".join(lines)


_COPY_HEADER = re.compile(r"^COPY (\S+) \((.*)\) FROM stdin;$")


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

    customer = post_json(server, "/v1/customers", {"name": "Ada Lovelace"}).json()["id"]
    saved = post_json(server, "/v1/payment_methods", {"token": tokens[0], "customer": customer})
    assert saved.status_code == 201, saved.content
    payment_method_id = saved.json()["id"]
    for source_id in (payment_method_id, tokens[1], tokens[2]):
        card = detokenize_for_authorization(
            token_or_payment_method_id=source_id,
            merchant_id=merchant.public_id,
            mode="test",
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
    database_values = _numeric_fields_set_aside(dump=database)
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
            "database (pg_dump)": database_values,
            "redis": redis_text,
            "logs": logs,
            "error mails": mails,
            "error pages": pages,
        }.items()
    }
    assert leaks == {place: [] for place in leaks}, leaks


def test_the_scan_itself_finds_a_card_number_and_a_cvc():
    number = SENTINEL_CARDS[0][1]
    assert find_card_data(text=f"paid with {number}") == [
        f"a Luhn-valid card number in 'paid with {mask_card_numbers(number)}'"
    ]
    spaced = " ".join(number[i : i + 4] for i in range(0, 16, 4))
    assert len(find_card_data(text=f"card {spaced}")) == 1
    assert find_card_data(text='{"cvc": "947"}') == ['CVC 947 in \'{"cvc": "947"}\'']
    assert find_card_data(text="a947b 19470 ts 2026-11-24 12:00:00.947123 15:43:56,947") == []
    assert len(find_card_data(text="cvc=947 cvc: 583")) == 2
    assert find_card_data(text="vault:cvc:a2591082-1449-445a-b524-8a0647edc9e7") == []
    assert len(find_card_data(text=f"x-{number}-y")) == 1
    assert find_card_data(text="2afebb010f" + "4242424242424242" + "e8aa98e13aa39c878d69") == []
    assert len(find_card_data(text="\t" + number + "0" * 16 + "\t")) == 0  # 32 digits: no PAN
    assert len(find_card_data(text=f"\t{number}\t")) == 1
    assert find_card_data(text="risk:first:card:test:abc\n1795553837372\n") == []  # Luhn-valid ms
    assert len(find_card_data(text="4222222222222")) == 1  # a 13-digit Visa still counts
    assert find_card_data(text="\treq_5a23a1aa" + "4242424242424242\t") == []  # a request id
    assert len(find_card_data(text="req_4242424242424242")) == 1  # all digits: not an id
