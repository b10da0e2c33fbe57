"""Reading captured SQL in tests: which columns each UPDATE sets."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_UPDATE = re.compile(r'UPDATE "(\w+)" SET (.*?) WHERE ')
_SET_COLUMN = re.compile(r'"(\w+)" =')


def list_updated_columns(queries: Iterable[dict[str, Any]]) -> list[tuple[str, set[str]]]:
    """``(table, columns set)`` for each ``UPDATE "t" SET "a" = %s, ... WHERE ...``, in order,
    on its own or inside a statement's data-modifying CTEs
    (``CaptureQueriesContext.captured_queries``)."""
    return [
        (found.group(1), set(_SET_COLUMN.findall(found.group(2))))
        for query in queries
        for found in _UPDATE.finditer(query["sql"])
    ]
