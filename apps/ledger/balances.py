"""Recomputing every cached balance from its postings, to prove there is no drift."""

from __future__ import annotations

from django.db import connection, transaction

from apps.ledger.contracts import BalanceDrift, BalanceRecomputeReport

RECOMPUTE_SQL = """
SELECT a.id, a.owner, a.mode, a.kind, a.currency,
       b.balance_minor, b.posting_count,
       coalesce(p.total, 0), coalesce(p.n, 0)
  FROM ledger_account a
  LEFT JOIN ledger_balance b ON b.account_id = a.id
  LEFT JOIN (SELECT account_id, sum(amount_minor) AS total, count(*) AS n
               FROM ledger_posting GROUP BY account_id) p ON p.account_id = a.id
 ORDER BY a.id
"""

TOTALS_SQL = """
SELECT e.mode, p.currency, sum(p.amount_minor)
  FROM ledger_posting p JOIN ledger_entry e ON e.id = p.entry_id
 GROUP BY e.mode, p.currency HAVING sum(p.amount_minor) <> 0
 ORDER BY 1, 2
"""


def recompute_balances() -> BalanceRecomputeReport:
    """Sum every account's postings and compare with its cached balance (one snapshot).

    Reports drift; never rewrites a balance (a drift means something bypassed the ledger
    and must be investigated, see docs/runbooks/ledger.md)."""
    if connection.in_atomic_block:
        return _recompute()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _recompute()


def _recompute() -> BalanceRecomputeReport:
    drifts: list[BalanceDrift] = []
    with connection.cursor() as cursor:
        cursor.execute(RECOMPUTE_SQL)
        rows = cursor.fetchall()
        cursor.execute(TOTALS_SQL)
        unbalanced = tuple(f"{mode} {currency}: {total}" for mode, currency, total in cursor)
    for _id, owner, mode, kind, currency, cached, count, total, n in rows:
        if cached is None or cached != total or count != n:
            drifts.append(
                BalanceDrift(
                    account=f"{owner}/{mode}/{kind}/{currency}",
                    cached_minor=cached if cached is not None else 0,
                    computed_minor=int(total),
                )
            )
    return BalanceRecomputeReport(
        accounts_checked=len(rows), drifts=tuple(drifts), unbalanced_totals=unbalanced
    )
