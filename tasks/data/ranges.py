"""
A big table cut into ranges that the copy's jobs load at once (``COPY_SPLIT_MB``), every range read
in the run's one exported snapshot.

A table whose primary key is one integer column is cut by that key (``lo <= key < hi``), evenly
between its smallest and largest value; any other table by pages (``ctid``). The first range is
open below and the last open above, so every row is in exactly one range whatever was written since
the ranges were planned (a rerun keeps the ranges its journal recorded, :mod:`tasks.data.journal`).
Pure apart from the catalog reads.
"""

from __future__ import annotations

import itertools
import math

import psycopg
from psycopg import sql

from tasks.data.journal import Range

MAX_RANGES = 64
# The single integer column of the table's primary key, if that is what it has.
INTEGER_KEY_SQL = """
SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
 WHERE i.indrelid = %s::regclass AND i.indisprimary AND i.indnatts = 1 AND a.atttypid IN (20, 21, 23)
"""
PAGES_SQL = "SELECT pg_relation_size(%s::regclass) / current_setting('block_size')::int"


def count(size: int, split_bytes: int) -> int:
    """Pure: how many ranges a table of ``size`` bytes is cut into (1: not cut)."""
    if split_bytes <= 0 or size <= split_bytes:
        return 1
    return min(MAX_RANGES, math.ceil(size / split_bytes))


def bounds(lo: int, hi: int, parts: int) -> list[tuple[int | None, int | None]]:
    """Pure: ``parts`` ranges covering ``lo..hi`` (inclusive), the first open below, the last above."""
    step = max(1, math.ceil((hi - lo + 1) / parts))
    cuts = [lo + step * k for k in range(1, parts) if lo + step * k <= hi]
    edges: list[int | None] = [None, *cuts, None]
    return list(itertools.pairwise(edges))


def plan(conn: psycopg.Connection, table: str, size: int, split_bytes: int) -> list[Range]:
    """The ranges of ``table`` (read in the caller's snapshot); one range when it is small."""
    parts = count(size, split_bytes)
    if parts == 1:
        return []
    row = conn.execute(INTEGER_KEY_SQL, (table,)).fetchone()
    if row:
        column = row[0]
        query = sql.SQL("SELECT min({c}), max({c}) FROM ONLY {t}").format(c=sql.Identifier(column), t=sql.SQL(table))
        lo, hi = conn.execute(query).fetchone() or (None, None)
        if lo is None or hi is None:
            return []
        found = bounds(lo, hi, parts)
        return [Range(table, n, "key", column, a, b) for n, (a, b) in enumerate(found)]
    pages = conn.execute(PAGES_SQL, (table,)).fetchone()[0]  # type: ignore[index]
    found = bounds(0, max(0, pages - 1), parts)
    return [Range(table, n, "ctid", None, a, b) for n, (a, b) in enumerate(found)]


def predicate(r: Range) -> sql.Composable:
    """The rows of range ``r`` of a table aliased ``t``."""
    if r.kind == "key":
        column = sql.SQL("t.{}").format(sql.Identifier(r.column or ""))
        low = sql.SQL("{} >= {}").format(column, sql.Literal(r.lo))
        high = sql.SQL("{} < {}").format(column, sql.Literal(r.hi))
    else:
        low = sql.SQL("t.ctid >= {}::tid").format(sql.Literal(f"({r.lo},0)"))
        high = sql.SQL("t.ctid < {}::tid").format(sql.Literal(f"({r.hi},0)"))
    parts = [p for p, edge in ((low, r.lo), (high, r.hi)) if edge is not None]
    return sql.SQL(" AND ").join(parts) if parts else sql.SQL("true")


def total(done: list[Range]) -> tuple[int, str]:
    """Pure: the rows and checksum of a table from its ranges' (the checksum is a sum of row hashes)."""
    return sum(r.rows for r in done), str(sum(int(r.checksum) for r in done))
