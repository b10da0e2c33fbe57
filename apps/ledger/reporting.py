"""Set-based reads of the ledger for other apps' reporting SQL.

Reconciliation matches a million processor lines against the ledger in one statement; asking
the facade entry by entry would be a million calls. Instead the ledger publishes a database
VIEW (created by migration 0004) with a stable set of columns, and this module names it: the
only ledger relation another app's SQL may read (ADR 0010).

``ledger_processor_lines`` — one row per entry that moves money between the platform and a
processor for a payment (rules ``capture``, ``refund`` and ``dispute_opened``):

==================  =====================================================================
entry_id            the journal entry's public id (``je_...``)
kind                ``charge`` (capture), ``refund`` or ``dispute`` (dispute opened)
source_type         the entry's cause type: ``payment``, ``refund`` or ``dispute``
source_id           the cause's public id (the payment, the refund, the dispute)
mode                ``test`` or ``live``
merchant_id         the merchant whose balance the entry moves
currency            ISO 4217 code
gross_minor         signed like a processor report: a charge positive, refunds and
                    disputes negative
fee_minor           the fee booked on the entry (fee revenue; 0 for refunds and disputes)
effective_at        when the entry took effect
==================  =====================================================================
"""

from __future__ import annotations

PROCESSOR_LINES_VIEW = "ledger_processor_lines"


def get_processor_lines_view() -> str:
    """The name of the ledger's processor-lines VIEW (columns in this module's docstring)."""
    return PROCESSOR_LINES_VIEW
