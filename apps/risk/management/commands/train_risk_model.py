"""Train a risk scoring model: `manage.py train_risk_model [--days N] [--synthetic ROWS]
[--activate]`.

Trains a gradient-boosting model from labelled history (lost disputes and review outcomes)
of the last N days; with too little history (a fresh install) or ``--synthetic``, from the
generator of realistic synthetic labelled attempts. The new version is stored with its
held-out metrics and stays inactive unless ``--activate`` (or the admin's activate action).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.common.errors import PaymentHubError
from apps.risk.ml import activate_model_version, train_risk_model


class Command(BaseCommand):
    help = "Train a risk scoring model version (inactive until activated)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=180, help="History window (days).")
        parser.add_argument(
            "--synthetic",
            type=int,
            default=0,
            metavar="ROWS",
            help="Train on this many synthetic labelled rows (plus any labelled history).",
        )
        parser.add_argument(
            "--min-history",
            type=int,
            default=200,
            help="Below this many labelled rows, fall back to synthetic data.",
        )
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--activate", action="store_true", help="Serve the new version at once."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["days"] < 1 or options["synthetic"] < 0:
            raise CommandError("--days must be at least 1 and --synthetic not negative.")
        try:
            version = train_risk_model(
                days=options["days"],
                synthetic_rows=options["synthetic"],
                min_history_rows=options["min_history"],
                seed=options["seed"],
            )
        except PaymentHubError as error:
            raise CommandError(error.message) from None
        metrics = version.metrics
        self.stdout.write(
            f"Trained {version.version} on {version.training_rows} {version.data_source} rows: "
            f"ROC AUC {metrics['roc_auc']}, "
            f"precision/recall at review ({metrics['review_threshold']}) "
            f"{metrics['precision_at_review']}/{metrics['recall_at_review']}, "
            f"at block ({metrics['block_threshold']}) "
            f"{metrics['precision_at_block']}/{metrics['recall_at_block']} "
            f"on {metrics['held_out_rows']} held-out rows."
        )
        if options["activate"]:
            activate_model_version(version=version.version, actor_id="manage.py")
            self.stdout.write(f"{version.version} is now the active model.")
        else:
            self.stdout.write("Not active: activate it in the admin or with --activate.")
