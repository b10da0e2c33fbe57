"""``python -m bench.load``: the load test, start to end, in one command.

1. a throwaway database (``paymenthub_bench_<pid>`` on the ``DATABASE_URL`` server, dropped at
   the end), migrated with :mod:`bench.load.settings`; a throwaway vault keyring;
2. merchants (keys, and a webhook endpoint each at a loopback receiver in this process);
3. a real gunicorn and a Celery worker with beat, on 127.0.0.1 and the ``REDIS_URL`` server
   under a key prefix of this run;
4. locust, headless, as a subprocess, playing :mod:`bench.load.locustfile` for a bounded time;
5. a bounded wait for the webhooks to drain, then the invariants (:mod:`bench.load.checks`);
6. the table, and ``BENCH load``, ``BENCH load_p99``, ``BENCH load_errors`` last.

Exit status 0 only when no response was unexpected, every mix category ran and every
invariant holds. Every process it starts is stopped, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from bench.harness.database import get_server_database_url, provide_fresh_database
from bench.harness.figures import Figure, format_bench_line
from bench.load import mix
from bench.runner import close_django_connections, describe_machine, install_signal_handlers

SETTINGS_MODULE = "bench.load.settings"
MAX_FAILURES_SHOWN = 20
SHORT = {"users": 4, "spawn_rate": 4.0, "duration": 15}


def parse_arguments(*, argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--users", type=int, default=16, help="simulated users (default 16)")
    parser.add_argument("--spawn-rate", type=float, default=8.0, help="users started per second")
    parser.add_argument("--duration", type=int, default=60, help="seconds of load (default 60)")
    parser.add_argument(
        "--short",
        action="store_true",
        help="a CI-sized run: 4 users for 15 s (overrides the above)",
    )
    parser.add_argument("--merchants", type=int, default=4, help="merchants the users share")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (gthread)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--celery-concurrency", type=int, default=2, help="Celery worker processes")
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=120.0,
        help="seconds to wait for webhooks after the load",
    )
    parser.add_argument("--summary-json", type=Path, help="also write the results here as JSON")
    arguments = parser.parse_args(argv)
    if arguments.short:
        arguments.users = SHORT["users"]
        arguments.spawn_rate = SHORT["spawn_rate"]
        arguments.duration = SHORT["duration"]
    if arguments.users < 1 or arguments.duration < 1 or arguments.merchants < 1:
        parser.error("--users, --duration and --merchants must be at least 1")
    return arguments


def set_up_django(*, database_url: str, keyring: Path, prefix: str) -> None:
    """Django on the fresh database with the load settings; children inherit the environment."""
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    os.environ["DATABASE_URL"] = database_url
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ["PAYMENTHUB_LOAD_PREFIX"] = prefix
    os.environ["VAULT_LOCAL_KEYRING_FILE"] = str(keyring)
    from paymenthub.bootstrap import load_settings_or_exit

    load_settings_or_exit()
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    from apps.tokenization.keys.local import init_keyring_file

    init_keyring_file(path=keyring)


def delete_run_keys(*, prefix: str) -> None:
    """The run's Redis keys (cache, risk history, rate limits, broker) go with its database."""
    from django.apps import apps

    if not prefix or not apps.ready:
        return
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
    except redis.RedisError as error:
        print(f"bench load: could not delete the run's Redis keys: {error}", file=sys.stderr)
    finally:
        client.close()


def run_load(*, arguments: argparse.Namespace, directory: Path, database_url: str) -> int:
    from django.conf import settings
    from django.utils import timezone

    from bench.harness.gunicorn import serve_with_gunicorn
    from bench.load import checks, report
    from bench.load.processes import run_celery_worker, run_locust
    from bench.load.receiver import WebhookTally, serve_webhook_receiver
    from bench.load.seed import seed_merchants

    tally = WebhookTally()
    with serve_webhook_receiver(tally=tally) as hooks_url:
        merchants = seed_merchants(count=arguments.merchants, hooks_url=hooks_url)
        tally.secrets.update({m.merchant_id: m.webhook_secret for m in merchants})
        merchant_ids = [merchant.merchant_id for merchant in merchants]
        plan_path = directory / "plan.json"
        plan_path.write_text(
            json.dumps(
                {
                    "merchants": [
                        {"secret_key": m.secret_key, "publishable_key": m.publishable_key}
                        for m in merchants
                    ]
                }
            )
        )
        plan_path.chmod(0o600)
        print(f"  seeded {len(merchants)} merchants; webhook receiver at {hooks_url}", flush=True)
        with (
            run_celery_worker(
                database_url=database_url,
                directory=directory,
                concurrency=arguments.celery_concurrency,
            ),
            serve_with_gunicorn(
                database_url=database_url,
                ready_path="/v1/_bench/echo",
                workers=arguments.workers,
                threads=arguments.threads,
            ) as address,
        ):
            print(
                f"  gunicorn gthread {arguments.workers}x{arguments.threads} on "
                f"{address.host}:{address.port}; celery worker -B, concurrency "
                f"{arguments.celery_concurrency}; locust {arguments.users} users "
                f"(+{arguments.spawn_rate:g}/s) for {arguments.duration} s",
                flush=True,
            )
            load_started_at = timezone.now()
            started = time.monotonic()
            locust_status, csv_prefix = run_locust(
                database_url=database_url,
                host=f"http://{address.host}:{address.port}",
                users=arguments.users,
                spawn_rate=arguments.spawn_rate,
                seconds=arguments.duration,
                plan_path=plan_path,
                directory=directory,
                plan_variable=mix.PLAN_VARIABLE,
            )
            print(f"  locust finished (exit {locust_status}); waiting for webhooks", flush=True)
            drain = checks.wait_for_webhooks(
                tally=tally,
                merchant_ids=merchant_ids,
                since=load_started_at,
                timeout=arguments.drain_timeout,
            )
            webhook_seconds = (tally.last_at or started) - started
        invariants = checks.check_invariants(drain=drain, tally=tally, merchant_ids=merchant_ids)

    rows, total = report.read_stats(csv_prefix=csv_prefix)
    failures = report.read_failures(csv_prefix=csv_prefix)
    exceptions = report.read_exceptions(csv_prefix=csv_prefix)
    # unexpected responses, and flows the locustfile's own code cut short
    errors = (total.failures if total else 0) + sum(item.occurrences for item in exceptions)
    categories = report.count_by_category(rows=rows)
    categories[mix.WEBHOOKS_CATEGORY] = drain.received
    print()
    report.print_table(rows=rows, total=total)
    print()
    webhook_rate = drain.received / webhook_seconds if webhook_seconds > 0 else 0.0
    print(
        f"webhooks: {drain.received} delivered to the receiver for {drain.expected} events, "
        f"{webhook_rate:.1f}/s over the run (drained {drain.seconds:.1f} s after the load)"
    )
    print("mix: " + ", ".join(f"{name} {count}" for name, count in categories.items()))
    for failure in failures[:MAX_FAILURES_SHOWN]:
        print(f"UNEXPECTED {failure.occurrences}x {failure.name}: {failure.error[:200]}")
    if len(failures) > MAX_FAILURES_SHOWN:
        print(f"UNEXPECTED ... and {len(failures) - MAX_FAILURES_SHOWN} more distinct failures")
    for exception in exceptions:
        print(f"EXCEPTION {exception.occurrences}x in the locustfile: {exception.error[:200]}")
    if total is None:
        invariants.problems.append(f"locust wrote no statistics (exit {locust_status})")
    elif locust_status != 0 and not errors:
        invariants.problems.append(f"locust exited with {locust_status}")
    idle = [name for name, count in categories.items() if count == 0]
    if idle:
        invariants.problems.append(f"mix: no request in {', '.join(idle)}")
    for note in invariants.notes:
        print(f"ok      {note}")
    for problem in invariants.problems:
        print(f"BROKEN  {problem}")
    print(
        f"settings: {settings.SETTINGS_MODULE}; {arguments.merchants} merchants; "
        f"{describe_machine()}"
    )
    figures = [
        Figure("load", total.requests_per_second if total else 0.0, "req/s"),
        Figure("load_p99", total.p99_ms if total else 0.0, "ms"),
        Figure("load_webhooks", webhook_rate, "deliveries/s"),
        Figure("load_errors", float(errors), "errors"),
    ]
    if arguments.summary_json:
        arguments.summary_json.write_text(
            json.dumps(
                {
                    "requests": [asdict(row) for row in rows],
                    "total": asdict(total) if total else None,
                    "categories": categories,
                    "errors": errors,
                    "failures": [asdict(failure) for failure in failures],
                    "exceptions": [asdict(exception) for exception in exceptions],
                    "problems": invariants.problems,
                    "webhooks": asdict(drain),
                },
                indent=2,
            )
        )
    for figure in figures:
        print(format_bench_line(figure=figure))
    return 1 if errors or invariants.problems else 0


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv=argv)
    install_signal_handlers()
    print(
        f"bench load: {arguments.users} users for {arguments.duration} s, a realistic API mix",
        flush=True,
    )
    try:
        with (
            tempfile.TemporaryDirectory(prefix="paymenthub-load-") as temporary,
            provide_fresh_database(server_url=get_server_database_url()) as database_url,
        ):
            directory = Path(temporary)
            try:
                set_up_django(
                    database_url=database_url,
                    keyring=directory / "keyring.json",
                    prefix=f"load-{os.getpid()}-{int(time.time())}",
                )
                return run_load(arguments=arguments, directory=directory, database_url=database_url)
            except Exception as error:
                from apps.common.testing.processes import read_log_tail

                print(f"bench load: failed: {error}", file=sys.stderr)
                for log in ("celery.log", "locust.out", "locust.log"):
                    path = directory / log
                    if path.exists() and path.stat().st_size:
                        print(f"--- {log} (tail)", file=sys.stderr)
                        print(read_log_tail(path=path, lines=30), file=sys.stderr)
                return 1
            finally:
                close_django_connections()
                delete_run_keys(prefix=os.environ.get("PAYMENTHUB_LOAD_PREFIX", ""))
    except KeyboardInterrupt:
        print("bench load: interrupted; processes stopped and database dropped", file=sys.stderr)
        return 130
