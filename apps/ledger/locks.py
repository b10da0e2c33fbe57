"""Every row lock the ledger takes, in one order: balance rows by account id, then the chain
head (taken last, inside ``ledger_post_entry``). Rules that must read a balance before posting
lock every account the entry will touch here first, in the same id order, so the function's
own locks are already held and no two writers can wait on each other in a cycle."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

AccountKey = tuple[str, str, str]  # (owner, kind, currency)


def lock_account_balances(*, mode: str, keys: Sequence[AccountKey]) -> dict[AccountKey, int]:
    """Create missing accounts, lock their balance rows in account id order and return each
    key's balance. Must run inside a transaction."""
    if not connection.in_atomic_block:
        raise RuntimeError("lock_account_balances needs a transaction")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ledger_ensure_accounts(%s, %s::text[], %s::text[], %s::text[])",
            [mode, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]],
        )
        row = cursor.fetchone()
        account_ids: list[int] = list(row[0]) if row else []
        cursor.execute(
            "SELECT b.account_id, b.balance_minor FROM ledger_balance b "
            "WHERE b.account_id = ANY(%s) ORDER BY b.account_id FOR UPDATE",
            [account_ids],
        )
        balances = dict(cursor.fetchall())
    return {key: balances[account_id] for key, account_id in zip(keys, account_ids, strict=True)}
