"""Load settings early so a configuration problem stops start-up with one clear line."""

from __future__ import annotations

import importlib
import os
import sys

from paymenthub.settings.env import EnvironmentConfigError

DEFAULT_SETTINGS_MODULE = "paymenthub.settings.base"


def load_settings_or_exit() -> None:
    """Import the settings module; on a bad environment print one line naming the variable."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", DEFAULT_SETTINGS_MODULE)
    try:
        importlib.import_module(os.environ["DJANGO_SETTINGS_MODULE"])
    except EnvironmentConfigError as exc:
        print(f"PaymentHub configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
