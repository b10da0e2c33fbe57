"""The payments list benchmark: does ``GET /v1/payments`` stay flat from 10k to 1M payments?

One merchant's test-mode payments are bulk-inserted with set-based SQL
(``INSERT ... SELECT ... FROM generate_series``: realistic columns — amounts, currencies,
statuses with matching captured/refunded amounts, card brand and last 4, customers and
emails, descriptions, metadata, processor references, increasing ``created_at``), with
other merchants' payments interleaved (one in ``OTHERS_EVERY`` rows belongs to one of
``OTHER_MERCHANTS`` others, in both modes), then ``VACUUM ANALYZE``. The merchant first has
10,000 payments; the list is measured; then newer payments are added until it has
1,000,000 (about 1.25M rows in the table) and the list is measured again.

Each measurement is ``REQUESTS`` sequential ``GET`` requests (after ``WARMUP``) through
Django's test client **in-process**, authenticated with a secret test key: the full product
stack (middleware, API key authentication, rate limiter round trip to Redis, DRF query
validation, the selector, the risk lookup for the page, serialization) without an HTTP
server, so the figure is the application's and database's cost, not gunicorn's:

- ``first``: ``/v1/payments?limit=10`` — the newest page;
- ``filtered``: ``/v1/payments?limit=10&status=failed&currency=EUR`` — about 1 row in 26.

``payments_list_<size>_p50`` / ``_p99`` and ``payments_list_filtered_<size>_p50`` / ``_p99``
(ms). The 1M figures' baseline is the same figure at 10k measured in the same run, so the
ratio is how much slower a page is when the merchant has 100x more payments: near 1 means
the page query stays an index range scan of one page (keyset pagination), not a scan or a
sort of the merchant's rows.
"""

from __future__ import annotations

import statistics
import time

from django.db import connections
from django.test import Client

from apps.merchants.api_keys import create_api_key
from apps.merchants.services import create_merchant
from apps.payments.models import Payment
from bench.harness.figures import Figure

SMALL = 10_000
LARGE = 1_000_000
OTHERS_EVERY = 5  # one row in five belongs to another merchant
OTHER_MERCHANTS = 50
WARMUP = 50
REQUESTS = 400
FIRST_PAGE = "/v1/payments?limit=10"
FILTERED_PAGE = "/v1/payments?limit=10&status=failed&currency=EUR"

# One set-based statement per batch. %(merchant)s is the measured merchant; %(start)s and
# %(stop)s number the rows (the row number drives every column, created_at increases with it).
SEED_SQL = """
INSERT INTO payments_payment (
    public_id, merchant_ref, mode, amount_minor, currency, amount_captured_minor,
    amount_refunded_minor, status, capture_method, payment_method_ref, card_brand, card_last4,
    customer_ref, customer_email, description, statement_descriptor, metadata, connector,
    processor_reference, decline_code, failure_code, risk_action, client_ip, created_at,
    updated_at
)
SELECT
    'pay_bench' || lpad(n::text, 15, '0'),
    owner.merchant, owner.mode, amount, currency,
    CASE WHEN status = 'succeeded' THEN amount ELSE 0 END,
    CASE WHEN status = 'succeeded' AND n %% 17 = 0 THEN amount / 2 ELSE 0 END,
    status, 'automatic',
    'pm_bench' || lpad((n %% 50000)::text, 16, '0'),
    (ARRAY['visa', 'mastercard', 'amex'])[1 + n %% 3],
    lpad((n %% 10000)::text, 4, '0'),
    'cus_bench' || lpad((n %% 20000)::text, 15, '0'),
    'shopper' || (n %% 20000) || '@example.com',
    'Order #' || (100000 + n),
    'BENCH SHOP',
    jsonb_build_object('order_id', (100000 + n)::text, 'channel', 'web'),
    'simulator',
    'sim_' || lpad(n::text, 20, '0'),
    CASE WHEN status = 'failed' THEN 'insufficient_funds' ELSE '' END,
    CASE WHEN status = 'failed' THEN 'card_declined' ELSE '' END,
    'allow',
    ('10.' || (n %% 250) || '.' || (n / 250 %% 250) || '.1')::inet,
    created, created
FROM generate_series(%(start)s::bigint, %(stop)s::bigint - 1) AS n
CROSS JOIN LATERAL (
    SELECT
        1000 + (n * 7919) %% 90000 AS amount,
        (ARRAY['EUR', 'EUR', 'EUR', 'USD', 'GBP'])[1 + n %% 5] AS currency,
        CASE
            WHEN n %% 13 = 0 THEN 'failed'
            WHEN n %% 29 = 0 THEN 'requires_capture'
            WHEN n %% 31 = 0 THEN 'canceled'
            ELSE 'succeeded'
        END AS status,
        timestamptz '2025-01-01 00:00:00+00' + n * interval '2 seconds' AS created
) AS row_values
CROSS JOIN LATERAL (
    SELECT
        CASE WHEN n %% %(others_every)s = 0
            THEN 'mch_bench_other_' || (n / %(others_every)s %% %(other_merchants)s)
            ELSE %(merchant)s
        END AS merchant,
        CASE WHEN n %% %(others_every)s = 0 AND n %% 2 = 0 THEN 'live' ELSE 'test' END AS mode
) AS owner
"""
SEED_BATCH_ROWS = 250_000


def rows_for(*, merchant_payments: int) -> int:
    """Row numbers needed for the merchant to own ``merchant_payments`` of them."""
    per_cycle = OTHERS_EVERY - 1
    cycles, rest = divmod(merchant_payments, per_cycle)
    return cycles * OTHERS_EVERY + rest + (1 if rest else 0)


def seed_rows(*, merchant_id: str, start: int, stop: int) -> None:
    began = time.perf_counter()
    with connections["default"].cursor() as cursor:
        for batch_start in range(start, stop, SEED_BATCH_ROWS):
            cursor.execute(
                SEED_SQL,
                {
                    "merchant": merchant_id,
                    "start": batch_start,
                    "stop": min(batch_start + SEED_BATCH_ROWS, stop),
                    "others_every": OTHERS_EVERY,
                    "other_merchants": OTHER_MERCHANTS,
                },
            )
        cursor.execute("VACUUM ANALYZE payments_payment")
    owned = Payment.objects.filter(merchant_ref=merchant_id, mode="test").count()
    total = Payment.objects.count()
    print(
        f"  seeded rows {start}..{stop - 1} in {time.perf_counter() - began:.1f} s: "
        f"merchant has {owned}, table has {total}",
        flush=True,
    )


def measure(*, client: Client, path: str, secret: str, label: str) -> tuple[float, float]:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}", "SERVER_NAME": "127.0.0.1"}
    latencies: list[float] = []
    for index in range(WARMUP + REQUESTS):
        began = time.perf_counter()
        response = client.get(path, **headers)  # type: ignore[arg-type]
        elapsed = (time.perf_counter() - began) * 1000
        if response.status_code != 200 or len(response.json()["data"]) != 10:
            raise RuntimeError(f"{label}: {response.status_code} {response.content[:200]!r}")
        if index >= WARMUP:
            latencies.append(elapsed)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    p50, p99 = cuts[49], cuts[98]
    print(f"  {label:<24} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  ({REQUESTS} requests)")
    return p50, p99


def measure_both(*, client: Client, secret: str, size: str) -> dict[str, tuple[float, float]]:
    return {
        "first": measure(client=client, path=FIRST_PAGE, secret=secret, label=f"first, {size}"),
        "filtered": measure(
            client=client, path=FILTERED_PAGE, secret=secret, label=f"filtered, {size}"
        ),
    }


def run() -> list[Figure]:
    print(
        f"payments_list: GET /v1/payments via the in-process test client, "
        f"{REQUESTS} requests per figure, at {SMALL} and {LARGE} merchant payments",
        flush=True,
    )
    merchant_id = create_merchant(
        legal_name="Bench List S.r.l.",
        trading_name="Bench List",
        country="IT",
        settlement_currency="EUR",
        support_email="bench@list.example",
        status="active",
    ).public_id
    secret = create_api_key(merchant_id=merchant_id, mode="test", key_type="secret").secret
    client = Client()
    small_rows = rows_for(merchant_payments=SMALL)
    seed_rows(merchant_id=merchant_id, start=0, stop=small_rows)
    small = measure_both(client=client, secret=secret, size="10k")
    seed_rows(merchant_id=merchant_id, start=small_rows, stop=rows_for(merchant_payments=LARGE))
    large = measure_both(client=client, secret=secret, size="1m")
    figures: list[Figure] = []
    for page, prefix in (("first", "payments_list"), ("filtered", "payments_list_filtered")):
        for index, quantile in enumerate(("p50", "p99")):
            figures.append(Figure(f"{prefix}_10k_{quantile}", small[page][index], "ms"))
            figures.append(
                Figure(f"{prefix}_1m_{quantile}", large[page][index], "ms", small[page][index])
            )
    return figures
