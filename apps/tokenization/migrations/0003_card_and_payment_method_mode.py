"""Tokens and payment methods carry the mode (test/live) of the key they were made with.

Existing rows get the mode of what the platform stored about them, else ``test``:

* a payment method: the mode of the customer it was saved for (``payments_customer``, same
  merchant, public id = ``customer_ref``); failing that, the mode of a payment made with it
  (``payments_payment.payment_method_ref``);
* a token: the mode of the payment it authorized, or of the payment method it was saved as;
* anything else (a payment method saved for a free-text customer reference and never used, a
  token never used — tokens expire within minutes): ``test``, the mode with no real money.

The payments tables are read (never written) by plain SQL and only if they exist: on a new
database this migration may run before them, and then there is nothing to backfill.
"""

from typing import Any

from django.db import migrations, models

PAYMENT_METHODS_FROM_PAYMENTS = """
    UPDATE tokenization_payment_method AS pm SET mode = p.mode
    FROM payments_payment AS p
    WHERE p.payment_method_ref = pm.public_id AND p.merchant_ref = pm.merchant_id
      AND p.mode IN ('test', 'live')
"""
PAYMENT_METHODS_FROM_CUSTOMERS = """
    UPDATE tokenization_payment_method AS pm SET mode = c.mode
    FROM payments_customer AS c
    WHERE c.public_id = pm.customer_ref AND c.merchant_ref = pm.merchant_id
      AND c.mode IN ('test', 'live')
"""
TOKENS_FROM_PAYMENT_METHODS = """
    UPDATE tokenization_card_token AS t SET mode = pm.mode
    FROM tokenization_payment_method AS pm
    WHERE pm.record_id = t.record_id AND pm.merchant_id = t.merchant_id
"""
TOKENS_FROM_PAYMENTS = """
    UPDATE tokenization_card_token AS t SET mode = p.mode
    FROM payments_payment AS p
    WHERE p.payment_method_ref = t.public_id AND p.merchant_ref = t.merchant_id
      AND p.mode IN ('test', 'live')
"""


def backfill_modes(apps: Any, schema_editor: Any) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT to_regclass('payments_payment') IS NOT NULL, "
            "to_regclass('payments_customer') IS NOT NULL"
        )
        has_payments, has_customers = cursor.fetchone()
        # weakest evidence first: a later statement overrides an earlier one
        if has_payments:
            cursor.execute(PAYMENT_METHODS_FROM_PAYMENTS)
        if has_customers:
            cursor.execute(PAYMENT_METHODS_FROM_CUSTOMERS)
        cursor.execute(TOKENS_FROM_PAYMENT_METHODS)
        if has_payments:
            cursor.execute(TOKENS_FROM_PAYMENTS)


class Migration(migrations.Migration):
    dependencies = [
        ("tokenization", "0002_merchant_allowed_origins"),
    ]

    operations = [
        migrations.AddField(
            model_name="cardtoken",
            name="mode",
            field=models.CharField(
                choices=[("test", "Test"), ("live", "Live")], default="test", max_length=8
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="paymentmethod",
            name="mode",
            field=models.CharField(
                choices=[("test", "Test"), ("live", "Live")], default="test", max_length=8
            ),
            preserve_default=False,
        ),
        migrations.AddConstraint(
            model_name="cardtoken",
            constraint=models.CheckConstraint(
                condition=models.Q(("mode__in", ["test", "live"])), name="card_token_mode_valid"
            ),
        ),
        migrations.AddConstraint(
            model_name="paymentmethod",
            constraint=models.CheckConstraint(
                condition=models.Q(("mode__in", ["test", "live"])),
                name="payment_method_mode_valid",
            ),
        ),
        migrations.RemoveIndex(
            model_name="paymentmethod",
            name="payment_method_customer",
        ),
        migrations.AddIndex(
            model_name="paymentmethod",
            index=models.Index(
                fields=["merchant_id", "mode", "customer_ref"], name="payment_method_customer"
            ),
        ),
        # last: no ALTER TABLE follows the UPDATEs in this transaction
        migrations.RunPython(backfill_modes, migrations.RunPython.noop, elidable=True),
    ]
