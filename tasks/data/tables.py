"""
The relations the copy moves, as one side sees them in its snapshot: names, columns, foreign keys,
materialized views, and each table's row count and checksum (computed once a run). Catalog reads
only; shared by the copy's planning (:mod:`tasks.data.copy`) and its loader (:mod:`tasks.data.loader`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import psycopg
from psycopg import sql

from tasks.core.errors import ActionableError
from tasks.data import relations
from tasks.data.checksum import queries_sql


class CopyError(ActionableError, RuntimeError):
    """The copy was refused or failed; the message names the table and the way forward."""


class TableRefused(CopyError):
    """One table refused after its rows were in (rows the copy did not write are in it): the other
    tables go on, and what the copy set aside is put back, before the run fails with this line."""


@dataclass(frozen=True)
class TableState:
    table: str
    rows: int
    checksum: str | None


class Catalog:
    """One side's relations, columns and checksum queries (catalog reads only, in its snapshot)."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn
        rows = conn.execute(relations.TABLES_SQL).fetchall()
        self.tables = [name for name, _, _ in rows]
        self.parent = {name: parent for name, _, parent in rows}
        by_oid = {oid: name for name, oid, _ in rows}
        self.references: dict[str, set[str]] = {}
        for child, parent in conn.execute(relations.FOREIGN_KEYS_SQL).fetchall():
            if child in by_oid and parent in by_oid:
                self.references.setdefault(by_oid[child], set()).add(by_oid[parent])
        self.views = conn.execute(relations.MATVIEWS_SQL).fetchall()
        self._states: dict[str, TableState] = {}
        self._lock = threading.Lock()

    def columns(self, table: str) -> list[str]:
        return list(self.column_types(table))

    def column_types(self, table: str) -> dict[str, str]:
        """The written columns, in table order, with their types as SQL spells them."""
        return dict(self.conn.execute(relations.COLUMNS_SQL, (table,)).fetchall())

    def has_rows(self, table: str) -> bool:
        query = sql.SQL("SELECT EXISTS (SELECT FROM ONLY {})").format(sql.SQL(table))
        row = self.conn.execute(query).fetchone()
        return bool(row and row[0])

    def state(self, table: str, conn: psycopg.Connection | None = None, fresh: bool = False) -> TableState:
        """Row count and checksum (computed once unless ``fresh``); ``conn`` another connection of
        the same side and snapshot (a worker's)."""
        with self._lock:
            if not fresh and table in self._states:
                return self._states[table]
        state = table_state(conn or self.conn, table)
        with self._lock:
            self._states[table] = state
        return state

    def remember(self, state: TableState) -> None:
        with self._lock:
            self._states[state.table] = state


def row_count(conn: psycopg.Connection, table: str) -> int:
    """The rows of ``table`` itself (``ONLY``: not its children's), by its formatted name; no checksum."""
    return int(conn.execute(sql.SQL("SELECT count(*) FROM ONLY {}").format(sql.SQL(table))).fetchone()[0])  # type: ignore[index]


def table_state(conn: psycopg.Connection, table: str) -> TableState:
    """Row count and checksum of one relation (table or materialized view) by its formatted name."""
    relation = sql.SQL("SELECT {}::text, {}::regclass::oid").format(sql.Literal(table), sql.Literal(table))
    query = conn.execute(queries_sql(relation.as_string(conn))).fetchone()[1]  # type: ignore[index]
    rows, digest = conn.execute(query).fetchone()[1:]  # type: ignore[index]
    return TableState(table, rows, digest)


def range_state(conn: psycopg.Connection, table: str, where: sql.Composable) -> TableState:
    """Row count and checksum of the rows of ``table`` (aliased ``t``) that ``where`` selects."""
    relation = sql.SQL("SELECT {}::text, {}::regclass::oid").format(sql.Literal(table), sql.Literal(table))
    query = conn.execute(queries_sql(relation.as_string(conn))).fetchone()[1]  # type: ignore[index]
    rows, digest = conn.execute(sql.SQL(query + " WHERE {}").format(where)).fetchone()[1:]  # type: ignore[index]
    return TableState(table, rows, digest)
