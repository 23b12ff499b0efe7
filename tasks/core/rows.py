"""Reading a query that always returns one row (``SELECT current_database()``, ``SHOW ...``)."""

from __future__ import annotations

from typing import Any, Protocol


class Cursor(Protocol):
    def fetchone(self) -> Any: ...


def scalar(cursor: Cursor) -> Any:
    """The first column of the cursor's first row; a :class:`LookupError` when there is no row."""
    row = cursor.fetchone()
    if row is None:
        raise LookupError("the query returned no row")
    return row[0]
