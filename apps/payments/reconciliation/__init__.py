"""Reconciliation: prove the books match the processors.

Processor settlement reports (the simulator's settlement file, Stripe's balance
transactions) are staged with COPY (``importers``), matched against the ledger's processor
lines in a few set-based statements (``matcher``), and every difference is kept as a break
(``models``) that staff resolve with a reason in the Django admin (``admin`` → ``services``).
See docs/runbooks/reconciliation.md and ADR 0010.
"""
