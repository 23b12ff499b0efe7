"""
A big table cut into ranges that the copy's jobs load at once (``COPY_SPLIT_MB``), every range read
in the run's one exported snapshot.

A table whose primary key is one integer column is cut by that key (``lo <= key < hi``) at its
row-count quantiles, read from a sample of its pages (``TABLESAMPLE SYSTEM``, about
:data:`SAMPLE_BYTES`), so a skewed key gives ranges of about as many rows each; any other table by
pages (``ctid``). A table's size is its heap and TOAST (``pg_table_size``). The first range is
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
HEAP_SQL = "SELECT pg_relation_size(%s::regclass)"
TABLE_SIZE_SQL = "SELECT pg_table_size(%s::regclass)"  # heap and TOAST: what the copy reads
SAMPLE_BYTES = 16 << 20  # the key's quantiles are read from about this much of the heap
QUANTILES_SQL = "SELECT percentile_disc({fractions}) WITHIN GROUP (ORDER BY {c}) FROM ONLY {t} TABLESAMPLE SYSTEM ({p})"


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


def sample_percent(heap_bytes: int) -> float:
    """Pure: the share of the heap's pages (percent) that holds about :data:`SAMPLE_BYTES`."""
    return min(100.0, max(0.01, 100.0 * SAMPLE_BYTES / max(1, heap_bytes)))


def quantile_bounds(cuts: list[int | None]) -> list[tuple[int | None, int | None]]:
    """Pure: the ranges between the key's quantiles ``cuts`` (duplicates once), the first open
    below, the last above."""
    edges: list[int | None] = [None, *sorted({c for c in cuts if c is not None}), None]
    return list(itertools.pairwise(edges))


def key_cuts(conn: psycopg.Connection, table: str, column: str, parts: int) -> list[int | None]:
    """The key's quantiles at 1/parts, 2/parts, ... of the rows (a sample of the pages; all of them
    when the sample holds too few rows)."""
    fractions = sql.Literal([k / parts for k in range(1, parts)])
    heap = conn.execute(HEAP_SQL, (table,)).fetchone()[0]  # type: ignore[index]
    for percent in (sample_percent(heap), 100.0):
        query = sql.SQL(QUANTILES_SQL).format(
            fractions=fractions, c=sql.Identifier(column), t=sql.SQL(table), p=sql.Literal(percent)
        )
        cuts = (conn.execute(query).fetchone() or (None,))[0]
        if cuts and all(c is not None for c in cuts):
            return list(cuts)
    return []


def plan(conn: psycopg.Connection, table: str, size: int, split_bytes: int) -> list[Range]:
    """The ranges of ``table`` (read in the caller's snapshot); one range when it is small."""
    parts = count(size, split_bytes)
    if parts == 1:
        return []
    row = conn.execute(INTEGER_KEY_SQL, (table,)).fetchone()
    if row:
        column = row[0]
        cuts = key_cuts(conn, table, column, parts)
        if not cuts:
            return []
        return [Range(table, n, "key", column, a, b) for n, (a, b) in enumerate(quantile_bounds(cuts))]
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
