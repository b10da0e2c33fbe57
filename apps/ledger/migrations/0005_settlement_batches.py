"""Settlement batches and their items (one per settled pending posting, unique).

Also: a partial index of the postings that carry ``available_on`` (the pending side of
captures: what settlement selects), ``ledger_make_public_id`` (public ids made inside a
set-based statement) and a guard refusing databases that hold settlements of the former
cumulative rule (``cause_type = 'settlement'``): those captures have no settlement items and
would be settled again (that rule had no caller outside the tests; see the runbook).
"""

import django.db.models.deletion
from django.db import migrations, models

GUARD = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM ledger_entry WHERE cause_type = 'settlement') THEN
        RAISE EXCEPTION 'ledger: settlements of the former cumulative rule exist; their captures '
                        'have no settlement items and would be settled again. See '
                        'docs/runbooks/settlement.md (upgrading) before migrating.';
    END IF;
END;
$$;
"""

FORWARD = """
CREATE INDEX ledger_posting_due ON ledger_posting (available_on, id)
    INCLUDE (account_id, amount_minor) WHERE available_on IS NOT NULL;

-- <prefix>_<24 base62>: bytes 0..247 of strong random uuids map to the 62 characters
-- without bias (bytes 248..255 and the uuid version/variant bytes are skipped).
CREATE OR REPLACE FUNCTION ledger_make_public_id(p_prefix text) RETURNS text
LANGUAGE sql VOLATILE AS $$
    SELECT p_prefix || '_' || string_agg(
               substr('0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ',
                      get_byte(r.b, g.i) % 62 + 1, 1), '' ORDER BY g.i)
      FROM (SELECT uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())
                   || uuid_send(gen_random_uuid()) AS b) r,
           LATERAL (SELECT i FROM generate_series(0, 47) AS s(i)
                     WHERE i % 16 NOT IN (6, 8) AND get_byte(r.b, i) < 248
                     ORDER BY i LIMIT 24) g
$$;
"""

BACKWARD = """
DROP FUNCTION IF EXISTS ledger_make_public_id(text);
DROP INDEX IF EXISTS ledger_posting_due;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0004_processor_lines_view"),
    ]

    operations = [
        migrations.RunSQL(GUARD, migrations.RunSQL.noop),
        migrations.CreateModel(
            name="SettlementBatch",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("public_id", models.CharField(max_length=40, unique=True)),
                ("merchant_id", models.CharField(max_length=40)),
                (
                    "mode",
                    models.CharField(choices=[("test", "Test"), ("live", "Live")], max_length=8),
                ),
                ("currency", models.CharField(max_length=3)),
                ("as_of", models.DateField()),
                ("item_count", models.PositiveIntegerField()),
                ("amount_minor", models.BigIntegerField()),
                ("created_at", models.DateTimeField()),
                (
                    "entry",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="settlement_batch",
                        to="ledger.journalentry",
                    ),
                ),
            ],
            options={
                "db_table": "ledger_settlement_batch",
            },
        ),
        migrations.CreateModel(
            name="SettlementBatchItem",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("amount_minor", models.BigIntegerField()),
                ("available_on", models.DateField()),
                (
                    "batch",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="items",
                        to="ledger.settlementbatch",
                    ),
                ),
                (
                    "posting",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="settlement_item",
                        to="ledger.posting",
                    ),
                ),
            ],
            options={
                "db_table": "ledger_settlement_item",
            },
        ),
        migrations.AddIndex(
            model_name="settlementbatch",
            index=models.Index(
                fields=["merchant_id", "mode", "currency", "created_at"],
                name="ledger_settlement_batch_owner",
            ),
        ),
        migrations.AddConstraint(
            model_name="settlementbatch",
            constraint=models.CheckConstraint(
                condition=models.Q(("mode__in", ["test", "live"])),
                name="ledger_settlement_batch_mode_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="settlementbatch",
            constraint=models.CheckConstraint(
                condition=models.Q(("currency__regex", "^[A-Z]{3}$")),
                name="ledger_settlement_batch_currency_iso",
            ),
        ),
        migrations.AddConstraint(
            model_name="settlementbatch",
            constraint=models.CheckConstraint(
                condition=models.Q(("entry__isnull", False), ("amount_minor", 0), _connector="OR"),
                name="ledger_settlement_batch_entry_unless_zero",
            ),
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
