"""Cursor pagination by public id, the way the big processors page their lists."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, QuerySet

from apps.common.errors import PaymentHubError

M = TypeVar("M", bound=Model)


def page_by_cursor(
    *,
    queryset: QuerySet[M],
    limit: int,
    cursor: str | None,
    cursor_not_found: PaymentHubError,
    newest_first: bool = True,
    cursor_scope: QuerySet[Any] | None = None,
) -> tuple[list[M], bool]:
    """One page of ``queryset`` after the object whose public id is ``cursor``, and whether
    more follow. The cursor must name an object of ``cursor_scope`` (default: the queryset
    itself, so another merchant's id is refused with ``cursor_not_found``)."""
    if cursor:
        scope = queryset if cursor_scope is None else cursor_scope
        after = scope.filter(public_id=cursor).values_list("id", flat=True).first()
        if after is None:
            raise cursor_not_found
        queryset = queryset.filter(id__lt=after) if newest_first else queryset.filter(id__gt=after)
    rows = list(queryset.order_by("-id" if newest_first else "id")[: limit + 1])
    return rows[:limit], len(rows) > limit
