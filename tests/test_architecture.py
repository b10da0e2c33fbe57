"""The picture in ARCHITECTURE.md stays true: every app is installed, has its public
facade and contracts, and the import contracts cover every app and hold."""

import subprocess
import sys
import tomllib
from pathlib import Path

from django.apps import apps as django_apps

ROOT = Path(__file__).resolve().parent.parent
APPS = sorted(p.name for p in (ROOT / "apps").iterdir() if (p / "apps.py").exists())
DOMAIN_APPS = [name for name in APPS if name != "common"]


class TestAppLayout:
    def test_has_the_apps_the_architecture_names(self):
        assert set(APPS) == {
            "common",
            "merchants",
            "checkout",
            "payments",
            "ledger",
            "tokenization",
            "risk",
            "openbanking",
            "backoffice",
        }

    def test_every_app_is_installed(self):
        installed = {config.name for config in django_apps.get_app_configs()}
        assert {f"apps.{name}" for name in APPS} <= installed

    def test_every_domain_app_has_a_facade_and_contracts(self):
        for name in DOMAIN_APPS:
            assert (ROOT / "apps" / name / "facade.py").exists(), name
            assert (ROOT / "apps" / name / "contracts.py").exists(), name


class TestImportContracts:
    def _contracts(self):
        config = tomllib.loads((ROOT / "pyproject.toml").read_text())
        return config["tool"]["importlinter"]["contracts"]

    def test_every_domain_app_is_protected_behind_its_facade(self):
        protected = {
            module
            for contract in self._contracts()
            if contract["type"] == "protected"
            for module in contract["protected_modules"]
        }
        assert protected == {f"apps.{name}.*" for name in DOMAIN_APPS}

    def test_the_layers_contract_names_every_app(self):
        layers = next(c for c in self._contracts() if c["type"] == "layers")["layers"]
        named = {
            part.strip().removeprefix("apps.") for layer in layers for part in layer.split("|")
        }
        assert named == set(APPS)

    def test_the_contracts_hold(self):
        lint_imports = Path(sys.executable).parent / "lint-imports"
        result = subprocess.run(
            [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "0 broken" in result.stdout
