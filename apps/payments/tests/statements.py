"""Reading captured SQL in tests: which columns each UPDATE sets."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_TABLE = re.compile(r'^UPDATE "(\w+)"')
_SET_COLUMN = re.compile(r'"(\w+)" =')


def list_updated_columns(queries: Iterable[dict[str, Any]]) -> list[tuple[str, set[str]]]:
    """``(table, columns set)`` for each ``UPDATE "t" SET "a" = %s, ... WHERE ...``, in order
    (``CaptureQueriesContext.captured_queries``)."""
    updates = []
    for query in queries:
        sql = query["sql"]
        table = _TABLE.match(sql)
        if table is None:
            continue
        set_clause = sql.split(" SET ", 1)[1].split(" WHERE ", 1)[0]
        updates.append((table.group(1), set(_SET_COLUMN.findall(set_clause))))
    return updates
