"""One account per email, settled by the database: every path that may create a user for an
email (sign-up, accepting an invitation) takes this lock first, inside its transaction, so two
requests for the same address (in any case) run one after the other: the second sees the
first's account instead of failing on the username's unique index."""

from __future__ import annotations

from django.db import connection


def lock_account_email(*, email: str) -> None:
    """Hold a transaction-scoped advisory lock for ``email`` (case-insensitive) until the
    caller's transaction ends. Call inside ``transaction.atomic()``."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"account-email:{email.strip().lower()}"],
        )
