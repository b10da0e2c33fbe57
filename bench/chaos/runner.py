"""``python -m bench.chaos [scenario ...] [--seeds 1 2 3] [--short] [--list]``: chaos runs.

Each (scenario, seed) runs in its own ``python -m bench.chaos.runner --one <name> --seed <n>``
subprocess: Django can be set up only once per process, and each run needs its own database
(``paymenthub_chaos_<pid>``, dropped at the end) and its own Redis key prefix
(``PAYMENTHUB_CHAOS_RUN``, deleted at the end; see :mod:`bench.chaos.settings`). The parent
prints ``chaos: <scenario> seed=<n>`` before each run, echoes its output, and ends with one
``CHAOS <scenario> seed=<n> result=pass|fail <figure>=<value> ...`` line per run followed by
every failure; it exits 1 if any run failed. Ctrl-C or SIGTERM stops the run under way (its
servers, workers and database) before the runner exits.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, field
from types import FrameType

from bench.chaos.base import SCENARIO_MODULES, ScenarioReport, get_scenario, list_scenarios

CHAOS_SETTINGS_MODULE = "bench.chaos.settings"
DEFAULT_SEEDS = (1, 2, 3)
RESULT_PREFIX = "CHAOS-RESULT "  # the child's machine-readable report line
RUN_TIMEOUT_SECONDS = {True: 300, False: 900}  # per run: short, full

_interrupted = False


def handle_stop_signal(signum: int, frame: FrameType | None) -> None:
    """First SIGINT/SIGTERM unwinds (so cleanup runs); later ones must not interrupt it."""
    global _interrupted
    if _interrupted:
        print(f"chaos: signal {signum} ignored while cleaning up", file=sys.stderr)
        return
    _interrupted = True
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)


def install_signal_handlers() -> None:
    signal.signal(signal.SIGINT, handle_stop_signal)
    signal.signal(signal.SIGTERM, handle_stop_signal)


def configure_django(*, database_url: str | None = None) -> None:
    """Django with the chaos settings (no database connection is made here)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = CHAOS_SETTINGS_MODULE
    if database_url is not None:
        os.environ["DATABASE_URL"] = database_url
    from paymenthub.bootstrap import load_settings_or_exit

    load_settings_or_exit()
    import django

    django.setup()


def load_scenario_modules() -> list[str]:
    """Import every module of ``SCENARIO_MODULES``; one that does not exist yet is noted and
    skipped (any other import error is raised). Returns the notes."""
    notes = []
    for module in SCENARIO_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name != module:
                raise
            notes.append(f"chaos: note: {module} does not exist yet; its scenarios are skipped")
    return notes


# --- one run, in this process ----------------------------------------------------------------
def run_here(*, name: str, seed: int, short: bool) -> int:
    """Fresh database and key prefix, Django, the scenario; report line; cleanup."""
    from bench.chaos import stack
    from bench.harness.database import create_database, drop_database, get_server_database_url

    run_id = f"chaos-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    os.environ["PAYMENTHUB_CHAOS_RUN"] = run_id
    for variable, value in stack.CHAOS_ENVIRONMENT.items():
        os.environ.setdefault(variable, value)
    server_url = get_server_database_url()
    database = f"paymenthub_chaos_{os.getpid()}"
    database_url = create_database(server_url=server_url, name=database)
    keyring_dir = stack.get_log_dir()
    os.environ["VAULT_LOCAL_KEYRING_FILE"] = str(keyring_dir / "keyring.json")
    report = ScenarioReport(scenario=name, seed=seed)
    started = time.monotonic()
    try:
        configure_django(database_url=database_url)
        from django.conf import settings
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
        call_command("init_vault_keyring", stdout=io.StringIO())
        load_scenario_modules()
        scenario = get_scenario(name=name)
        print(f"chaos: {name} seed={seed} run={run_id} short={short}", flush=True)
        report = scenario.run(seed=seed, short=short)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception:
        traceback.print_exc()
        report.failures.append(f"the scenario crashed: {traceback.format_exc(limit=3)!r}")
    finally:
        stack.stop_everything()
        from django.db import connections

        connections.close_all()
        try:
            from django.conf import settings

            stack.delete_run_keys(redis_url=str(settings.REDIS_URL), prefix=run_id)
        except Exception as error:  # cleanup must not hide the result
            print(f"chaos: could not delete the run's Redis keys: {error}", file=sys.stderr)
        drop_database(server_url=server_url, name=database)
        if report.passed:
            shutil.rmtree(keyring_dir, ignore_errors=True)
        else:
            print(f"chaos: the run's process logs are in {keyring_dir}", flush=True)
    report.figures.setdefault("seconds", round(time.monotonic() - started, 1))
    print(
        RESULT_PREFIX
        + json.dumps(
            {
                "scenario": report.scenario,
                "seed": report.seed,
                "figures": report.figures,
                "failures": report.failures,
            }
        ),
        flush=True,
    )
    return 0 if report.passed else 1


# --- the parent: every run in a subprocess -----------------------------------------------------
@dataclass(slots=True)
class RunResult:
    scenario: str
    seed: int
    figures: dict[str, object] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def format_line(self) -> str:
        result = "fail" if self.failures else "pass"
        figures = " ".join(f"{key}={value}" for key, value in self.figures.items())
        return f"CHAOS {self.scenario} seed={self.seed} result={result} {figures}".rstrip()


def run_in_subprocess(*, name: str, seed: int, short: bool) -> RunResult:
    command = [sys.executable, "-m", "bench.chaos.runner", "--one", name, "--seed", str(seed)]
    if short:
        command.append("--short")
    result = RunResult(scenario=name, seed=seed)
    reported = False
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS[short]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, bufsize=1) as child:
        try:
            assert child.stdout is not None
            for line in child.stdout:
                if line.startswith(RESULT_PREFIX):
                    data = json.loads(line[len(RESULT_PREFIX) :])
                    result.figures = dict(data["figures"])
                    result.failures = list(data["failures"])
                    reported = True
                else:
                    print(line, end="", flush=True)
                if time.monotonic() > deadline:
                    result.failures.append(f"the run took over {RUN_TIMEOUT_SECONDS[short]} s")
                    child.send_signal(signal.SIGTERM)
                    break
        except BaseException:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                child.kill()
            raise
        finally:
            try:
                child.wait(timeout=120)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    if not reported:
        result.failures.append(f"the run ended with exit code {child.returncode} and no report")
    elif child.returncode not in (0, 1):
        result.failures.append(f"the run ended with exit code {child.returncode}")
    return result


def print_summary(*, results: list[RunResult]) -> None:
    print()
    for result in results:
        print(result.format_line())
    for result in results:
        for failure in result.failures:
            print(f"FAIL {result.scenario} seed={result.seed}: {failure}")


def parse_arguments(*, argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.chaos", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("scenarios", nargs="*", help="scenarios to run (default: all)")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(DEFAULT_SEEDS))
    parser.add_argument("--short", action="store_true", help="the CI length")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # the child: run this scenario here
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv=argv)
    install_signal_handlers()
    if arguments.one:
        try:
            return run_here(name=arguments.one, seed=arguments.seed or 1, short=arguments.short)
        except KeyboardInterrupt:
            print("chaos: interrupted; processes stopped, database dropped", file=sys.stderr)
            return 130
    configure_django()
    for note in load_scenario_modules():
        print(note, flush=True)
    if arguments.list:
        for scenario in list_scenarios():
            print(f"{scenario.name:<26} {scenario.summary}")
        return 0
    names = arguments.scenarios or [scenario.name for scenario in list_scenarios()]
    for name in names:
        get_scenario(name=name)  # an unknown name stops here, before anything runs
    results: list[RunResult] = []
    try:
        for name in names:
            for seed in arguments.seeds:
                print(f"chaos: {name} seed={seed}", flush=True)
                results.append(run_in_subprocess(name=name, seed=seed, short=arguments.short))
    except KeyboardInterrupt:
        print_summary(results=results)
        print("chaos: interrupted; the run under way was stopped", file=sys.stderr)
        return 130
    print_summary(results=results)
    return 1 if any(result.failures for result in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
