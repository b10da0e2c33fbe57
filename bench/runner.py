"""``python -m bench [name] [--list]``: run one benchmark, or all of them with a summary table.

One benchmark runs in this process: a fresh database is created, Django is set up against it
with :mod:`bench.settings` and migrated, the benchmark's ``run()`` is called, the database is
dropped (also on failure or Ctrl-C), and one ``BENCH`` line per figure ends the output.
With no name, every registered benchmark runs in its own ``python -m bench <name>``
subprocess (Django can be set up only once per process, and each needs its own database),
and their ``BENCH`` lines are collected into a table.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
from types import FrameType

from bench.harness.database import get_server_database_url, provide_fresh_database
from bench.harness.figures import Figure, format_bench_line, parse_bench_line
from bench.registry import Benchmark, get_benchmark, list_benchmarks, load_benchmark_run

BENCH_SETTINGS_MODULE = "bench.settings"
TABLE_COLUMNS = ("benchmark", "figure", "value", "unit", "baseline", "ratio")

_interrupted = False


def parse_arguments(*, argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", help="benchmark to run (default: all of them)")
    parser.add_argument("--list", action="store_true", help="list benchmark names and exit")
    return parser.parse_args(argv)


def handle_stop_signal(signum: int, frame: FrameType | None) -> None:
    """First SIGINT/SIGTERM unwinds (so cleanup runs); later ones must not interrupt it."""
    global _interrupted
    if _interrupted:
        print(f"bench: signal {signum} ignored while cleaning up", file=sys.stderr)
        return
    _interrupted = True
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)


def install_signal_handlers() -> None:
    signal.signal(signal.SIGINT, handle_stop_signal)
    signal.signal(signal.SIGTERM, handle_stop_signal)


def print_benchmark_list() -> None:
    for benchmark in list_benchmarks():
        print(f"{benchmark.name:<16} {benchmark.summary}")


def set_up_django(*, database_url: str) -> None:
    """Point Django at the fresh database with the bench settings, and migrate it."""
    os.environ["DJANGO_SETTINGS_MODULE"] = BENCH_SETTINGS_MODULE
    os.environ["DATABASE_URL"] = database_url
    os.environ["LOG_LEVEL"] = "WARNING"
    from paymenthub.bootstrap import load_settings_or_exit

    load_settings_or_exit()
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)


def close_django_connections() -> None:
    from django.apps import apps

    if apps.ready:
        from django.db import connections

        connections.close_all()


def run_benchmark_here(*, benchmark: Benchmark) -> list[Figure]:
    print(f"bench {benchmark.name}: {benchmark.summary}", flush=True)
    with provide_fresh_database(server_url=get_server_database_url()) as database_url:
        try:
            set_up_django(database_url=database_url)
            return load_benchmark_run(benchmark=benchmark)()
        finally:
            close_django_connections()


def run_one(*, name: str) -> int:
    try:
        benchmark = get_benchmark(name=name)
    except LookupError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    for figure in run_benchmark_here(benchmark=benchmark):
        print(format_bench_line(figure=figure))
    return 0


def run_in_subprocess(*, name: str) -> tuple[int, list[dict[str, str]]]:
    """Run ``python -m bench <name>``, echo its output, and return its exit code and figures."""
    rows: list[dict[str, str]] = []
    command = [sys.executable, "-m", "bench", name]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, bufsize=1) as child:
        try:
            assert child.stdout is not None
            for line in child.stdout:
                print(line, end="", flush=True)
                if fields := parse_bench_line(line=line):
                    rows.append({"benchmark": name, "figure": fields["name"], **fields})
        except SystemExit:
            child.send_signal(signal.SIGTERM)
            raise
        finally:
            child.wait()
    return child.returncode, rows


def describe_machine() -> str:
    """CPU model and count, memory, OS and Python: what the figures were measured on."""
    model, memory_gib = platform.processor() or platform.machine(), ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            model = next(
                (
                    line.split(":", 1)[1].strip()
                    for line in cpuinfo
                    if line.startswith("model name")
                ),
                model,
            )
        with open("/proc/meminfo", encoding="utf-8") as meminfo:
            kib = int(meminfo.readline().split()[1])
            memory_gib = f", {kib / 1024 / 1024:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"machine: {model}, {os.cpu_count()} cores{memory_gib}, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def print_summary_table(*, rows: list[dict[str, str]]) -> None:
    widths = {
        column: max([len(column), *(len(row[column]) for row in rows)]) for column in TABLE_COLUMNS
    }
    print()
    print("  ".join(column.ljust(widths[column]) for column in TABLE_COLUMNS))
    print("  ".join("-" * widths[column] for column in TABLE_COLUMNS))
    for row in rows:
        print("  ".join(row[column].ljust(widths[column]) for column in TABLE_COLUMNS))
    print(describe_machine())


def run_all() -> int:
    rows: list[dict[str, str]] = []
    failed: list[str] = []
    for benchmark in list_benchmarks():
        returncode, benchmark_rows = run_in_subprocess(name=benchmark.name)
        rows.extend(benchmark_rows)
        if returncode != 0:
            failed.append(benchmark.name)
    print_summary_table(rows=rows)
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv=argv)
    if arguments.list:
        print_benchmark_list()
        return 0
    install_signal_handlers()
    try:
        return run_one(name=arguments.name) if arguments.name else run_all()
    except KeyboardInterrupt:
        print("bench: interrupted; database dropped and servers stopped", file=sys.stderr)
        return 130
