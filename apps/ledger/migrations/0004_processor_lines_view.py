"""The ledger's processor lines as a VIEW, for set-based reconciliation (ADR 0010).

One row per entry that moves money between the platform and a processor for a payment:
captures (``charge``), refunds and opened disputes, with the gross signed as a processor
report signs it and the fee the entry booked. A plain join view (no aggregation), so the
planner can push a caller's filters and join keys into it: index lookups for a small match,
hash joins for a million lines. It relies on the posting rules (apps/ledger/rules.py): such an
entry has exactly one processor receivable or refunds clearing posting, at most one fee
revenue posting and at most one merchant posting.
"""

from django.db import migrations

FORWARD = """
CREATE VIEW ledger_processor_lines AS
SELECT e.public_id AS entry_id,
       CASE e.rule WHEN 'capture' THEN 'charge' WHEN 'refund' THEN 'refund' ELSE 'dispute' END
           AS kind,
       e.cause_type AS source_type,
       e.cause_id AS source_id,
       e.mode,
       ma.owner AS merchant_id,
       x.currency,
       -x.amount_minor AS gross_minor,
       coalesce(f.amount_minor, 0) AS fee_minor,
       e.effective_at
  FROM ledger_entry e
  JOIN ledger_posting x ON x.entry_id = e.id
  JOIN ledger_account xa
    ON xa.id = x.account_id AND xa.kind IN ('processor_receivable', 'refunds_clearing')
  LEFT JOIN (ledger_posting f
             JOIN ledger_account fa ON fa.id = f.account_id AND fa.kind = 'platform_fee_revenue')
    ON f.entry_id = e.id
  LEFT JOIN (ledger_posting m
             JOIN ledger_account ma ON ma.id = m.account_id AND ma.owner <> 'platform')
    ON m.entry_id = e.id
 WHERE e.rule IN ('capture', 'refund', 'dispute_opened');
"""

BACKWARD = "DROP VIEW IF EXISTS ledger_processor_lines;"


class Migration(migrations.Migration):
    dependencies = [("ledger", "0003_bulk_posting")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
