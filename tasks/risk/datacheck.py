"""
Data that will fail, found read-only before the backup: for a pending SET NOT NULL, UNIQUE or
PRIMARY KEY, CHECK or FOREIGN KEY (without NOT VALID) on a table the target has, one query counts
the rows that would make it fail and names one of them by its primary key (``ctid`` without one).

The queries are built with :mod:`psycopg.sql`: the table is PostgreSQL's own quoted name
(``regclass``), columns are quoted identifiers, and a CHECK's condition is pglast's deparse of the
file's parse tree. They run in the facts session (``BEGIN READ ONLY``) under a statement timeout.

A check is skipped (and said so) where the target's rows are not those the statement will meet:
an earlier pending statement writes to the table (UPDATE, INSERT, DELETE, COPY) or runs code
(DO, a function call), or the column or referenced table does not exist yet (made in this run).
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from tasks.risk.classify import DataCheck, Risk
from tasks.risk.size import TableSize

CHECK_TIMEOUT = "30s"
WRITES = ("UpdateStmt", "InsertStmt", "DeleteStmt", "CopyStmt", "MergeStmt")
CODE = ("DoStmt", "SelectStmt", "CallStmt")


@dataclass(frozen=True)
class Failure:
    """Rows of the target that would make a pending statement fail."""

    risk: Risk
    count: int
    example: str
    by_ctid: bool = False  # the table has no primary key: the example is where the row is (its ctid)

    @property
    def message(self) -> str:
        check = self.risk.check or DataCheck("")
        what = {
            "notnull": f"SET NOT NULL on {', '.join(check.columns)}: {self.count} row(s) hold NULL",
            "unique": f"UNIQUE on ({', '.join(check.columns)}): {self.count} value(s) are duplicated",
            "check": f"CHECK ({check.expression}): {self.count} row(s) violate it",
            "foreign key": f"FOREIGN KEY ({', '.join(check.columns)}) REFERENCES "
            f"{check.references}: {self.count} row(s) have no parent",
        }
        kind = check.kind
        example = "value" if kind == "unique" else "row at ctid" if self.by_ctid else "key"
        return (
            f"migration {self.risk.file} line {self.risk.line} will fail on the target's table {self.risk.table}: "
            f"{what[kind]} (e.g. {example} {self.example}); fix those rows (or the migration) and run again: "
            "nothing was backed up or changed"
        )


def written_before(statements: list[tuple[str, int, str, dict]]) -> dict[tuple[str, int], set[str] | None]:
    """For each (file, line): the tables earlier pending statements write to (None: unknown: data was
    written (a trigger may write any table) or code ran). An empty set: nothing earlier changes data."""
    seen: set[str] | None = set()
    before: dict[tuple[str, int], set[str] | None] = {}
    for file, line, kind, node in statements:
        before[(file, line)] = None if seen is None else set(seen)
        if kind in CODE and seen is not None and (kind != "SelectStmt" or "FuncCall" in repr(node)):
            seen = None
        elif kind in WRITES and seen is not None:
            seen = None  # a trigger fired by a write to any table may change any other's rows
    return before


def _columns(names: tuple[str, ...]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(name) for name in names)


def _all_set(alias: str, names: tuple[str, ...]) -> sql.Composed:
    return sql.SQL(" AND ").join(
        sql.SQL("{}.{} IS NOT NULL").format(sql.Identifier(alias), sql.Identifier(name)) for name in names
    )


def check_sql(check: DataCheck, table: TableSize, parent: TableSize | None) -> str | None:
    """The read-only query: one row (count of failing rows or values, one example) or none."""
    target = sql.SQL(table.regclass)
    key = sql.SQL("row({})::text").format(sql.SQL(table.key)) if table.key else sql.SQL("c.ctid::text")
    limit = sql.SQL("SET LOCAL statement_timeout = {};\n").format(sql.Literal(CHECK_TIMEOUT))
    if check.kind == "notnull":
        query = sql.SQL("SELECT count(*) OVER (), {key} FROM {t} AS c WHERE c.{col} IS NULL LIMIT 1").format(
            key=key, t=target, col=sql.Identifier(check.columns[0])
        )
    elif check.kind == "unique" and check.columns:
        query = sql.SQL(
            "SELECT count(*) OVER (), row({cols})::text FROM {t} AS c WHERE {set} "
            "GROUP BY {cols} HAVING count(*) > 1 LIMIT 1"
        ).format(cols=_columns(check.columns), t=target, set=_all_set("c", check.columns))
    elif check.kind == "check":
        query = sql.SQL("SELECT count(*) OVER (), {key} FROM {t} AS c WHERE NOT ({expr}) LIMIT 1").format(
            key=key, t=target, expr=sql.SQL(check.expression)
        )
    elif check.kind == "foreign key" and parent is not None and check.ref_columns:
        match = sql.SQL(" AND ").join(
            sql.SQL("p.{} = c.{}").format(sql.Identifier(r), sql.Identifier(c))
            for r, c in zip(check.ref_columns, check.columns)
        )
        query = sql.SQL(
            "SELECT count(*) OVER (), {key} FROM {t} AS c WHERE {set} AND NOT EXISTS "
            "(SELECT 1 FROM {p} AS p WHERE {match}) LIMIT 1"
        ).format(key=key, t=target, set=_all_set("c", check.columns), p=sql.SQL(parent.regclass), match=match)
    else:
        return None
    return (limit + query).as_string(None)


def parse_check(rows: list[list[str]]) -> tuple[int, str]:
    """(failing count, example) from a check's rows; (0, '') when none fail."""
    if not rows:
        return 0, ""
    return int(rows[0][0]), rows[0][1]
