from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Attempts and deliveries are written by every payment: build the indexes without blocking
    # those writes. They serve the back office's alert rules (the last few minutes of each).
    atomic = False

    dependencies = [
        ("payments", "0009_disputes_and_processor_notifications"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="paymentattempt",
            index=models.Index(
                condition=models.Q(("kind", "authorize")),
                fields=["created_at"],
                name="attempt_authorize_recent_idx",
            ),
        ),
        AddIndexConcurrently(
            model_name="webhookdelivery",
            index=models.Index(fields=["created_at"], name="webhook_recent_idx"),
        ),
    ]
