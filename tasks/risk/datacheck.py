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

from tasks.risk.checks import DataCheck
from tasks.risk.classify import Risk
from tasks.risk.size import TableSize

CHECK_TIMEOUT = "30s"
FIX = "fix those rows (or the migration) and run again: nothing was backed up or changed"


@dataclass(frozen=True)
class Failure:
    """Rows of the target that would make a pending statement fail."""

    risk: Risk
    count: int
    example: str
    by_ctid: bool = False  # the table has no primary key: the example is where the row is (its ctid)
    what: str = ""  # a PRIMARY KEY's failure: 'null' (a key column holds NULL) or 'duplicate'

    @property
    def message(self) -> str:
        return f"migration {self.risk.file} line {self.risk.line} {self.summary}; {FIX}"

    @property
    def summary(self) -> str:
        """``will fail on the target's table t: … (e.g. key (1))``."""
        check = self.risk.check or DataCheck("")
        columns = ", ".join(check.columns)
        unique = (
            f"{'PRIMARY KEY' if check.primary else 'UNIQUE'}{' NULLS NOT DISTINCT' if check.nulls_equal else ''} "
            f"on ({columns}){' WHERE ' + check.where if check.where else ''}"
        )
        what = {
            "notnull": f"SET NOT NULL on {columns}: {self.count} row(s) hold NULL",
            "new notnull": f"ADD COLUMN {columns} NOT NULL without a default: {self.count} row(s) would hold NULL",
            "new column": f"ADD COLUMN {columns} of a NOT NULL type without a default: "
            f"{self.count} row(s) would hold NULL",
            "unique": f"{unique}: {self.count} value(s) are duplicated",
            "check": f"CHECK ({check.expression}): {self.count} row(s) violate it",
            "partition": f"ATTACH PARTITION {check.bound} of {check.references}: "
            f"{self.count} row(s) lie outside the bound",
            "foreign key": f"FOREIGN KEY ({columns}) REFERENCES {check.references}"
            f"{' MATCH FULL' if check.match_full else ''}: {self.count} row(s) have no parent"
            f"{' or a partly NULL key' if check.match_full and len(check.columns) > 1 else ''}",
        }
        kind = check.kind
        if self.what == "null":
            what["unique"] = f"{unique}: {self.count} row(s) hold NULL in a key column"
        duplicates = kind == "unique" and self.what != "null"
        example = "value" if duplicates else "row at ctid" if self.by_ctid else "key"
        return f"will fail on the target's table {self.risk.table}: {what[kind]} (e.g. {example} {self.example})"


def relation_sql(table: TableSize, added: list) -> sql.Composable:
    """The rows the statement meets: the target's table, with the columns the run adds to it
    (:class:`tasks.risk.runstate.NewColumn`: the value each existing row gets) that the target lacks."""
    new = [column for column in added if column.name not in table.columns]
    if not new:
        return sql.SQL(table.regclass)
    values = [
        sql.SQL("{} AS {}").format(
            sql.SQL("NULL")
            if column.domain and column.value == "NULL"
            # a NOT NULL domain's cast fails
            else sql.SQL("({})::{}").format(sql.SQL(column.value), sql.SQL(column.type)),
            sql.Identifier(column.name),
        )
        for column in new
    ]
    return sql.SQL("(SELECT c.*, c.ctid AS ctid, c.tableoid AS tableoid, {} FROM {} AS c)").format(
        sql.SQL(", ").join(values), sql.SQL(table.regclass)
    )


def _all_set(alias: str, names: tuple[str, ...]) -> sql.Composed:
    return sql.SQL(" AND ").join(
        sql.SQL("{}.{} IS NOT NULL").format(sql.Identifier(alias), sql.Identifier(name)) for name in names
    )


def unique_sql(check: DataCheck, target: sql.Composable, key: sql.Composable) -> sql.Composable:
    """Duplicated keys (expressions, a partial index's rows, NULLs equal or not); for a PRIMARY KEY, the
    rows with a NULL key column first. Rows: (count, example, 'null' or 'duplicate')."""
    keys: list[sql.Composable] = [sql.SQL(k) for k in check.keys]
    keys = keys or [sql.SQL("c.{}").format(sql.Identifier(n)) for n in check.columns]
    listed = sql.SQL(", ").join(keys)
    # a NULL key (NULLS NOT DISTINCT) shown as NULL, not as row()'s empty field
    shown = sql.SQL(", ").join(sql.SQL("coalesce(({})::text, 'NULL')").format(k) for k in keys)
    where = [sql.SQL("({})").format(sql.SQL(check.where))] if check.where else []
    if not check.nulls_equal:
        where += [sql.SQL("({}) IS NOT NULL").format(k) for k in keys]
    duplicates = sql.SQL(
        "SELECT count(*) OVER (), '(' || concat_ws(', ', {shown}) || ')', 'duplicate' FROM {t} AS c{where} "
        "GROUP BY {keys} HAVING count(*) > 1 LIMIT 1"
    ).format(
        keys=listed,
        shown=shown,
        t=target,
        where=sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL(""),
    )
    if not check.primary:
        return duplicates
    nulls = sql.SQL("SELECT count(*) OVER (), {key}, 'null' FROM {t} AS c WHERE {any} LIMIT 1").format(
        key=key, t=target, any=sql.SQL(" OR ").join(sql.SQL("({}) IS NULL").format(k) for k in keys)
    )
    return sql.SQL("({}) UNION ALL ({}) LIMIT 1").format(nulls, duplicates)


def check_sql(
    check: DataCheck,
    table: TableSize,
    parent: TableSize | None,
    timeout: str = CHECK_TIMEOUT,
    relation: sql.Composable | None = None,
) -> str | None:
    """The read-only query: one row (count of failing rows or values, one example) or none; None when
    no exact count can be made (``check.inexact``) or the check needs what the target lacks. ``relation``:
    the rows met (:func:`relation_sql`), the target's table by default."""
    target = relation if relation is not None else sql.SQL(table.regclass)
    if relation is None and table.inherited and check.kind in ("unique", "foreign key"):
        target = sql.SQL("ONLY {}").format(target)  # not inherited by the children: the parent's own rows
    key: sql.Composable = sql.SQL("row({})::text").format(sql.SQL(table.key)) if table.key else sql.SQL("c.ctid::text")
    if not table.key and (table.partitioned or table.inherited):  # a ctid is a place in one table: name it
        key = sql.SQL("c.ctid::text || ' of ' || c.tableoid::regclass::text")
    query: sql.Composable
    # row_security off: policies never hide a failing row (an error instead, where they would apply)
    limit = sql.SQL("SET LOCAL statement_timeout = {};\nSET LOCAL row_security = off;\n").format(sql.Literal(timeout))
    if check.inexact:
        return None
    if check.kind in ("notnull", "new notnull", "new column"):
        domain: sql.Composable = sql.SQL("")
        if check.domain:  # a type of the target's: NOT NULL only if it is a domain that says so
            domain = sql.SQL(
                " AND EXISTS (SELECT FROM pg_catalog.pg_type d "
                "WHERE d.oid = to_regtype({}) AND d.typnotnull AND d.typdefaultbin IS NULL)"
            ).format(sql.Literal(check.domain))
        query = sql.SQL("SELECT count(*) OVER (), {key} FROM {t} AS c WHERE c.{col} IS NULL{domain} LIMIT 1").format(
            key=key, t=target, col=sql.Identifier(check.columns[0]), domain=domain
        )
    elif check.kind == "unique" and check.columns:
        query = unique_sql(check, target, key)
    elif check.kind in ("check", "partition") and check.expression:
        failing = "NOT ({expr})" if check.kind == "check" else "({expr})"  # partition: the rows outside its bound
        query = sql.SQL("SELECT count(*) OVER (), {key} FROM {t} AS c WHERE " + failing + " LIMIT 1").format(
            key=key, t=target, expr=sql.SQL(check.expression)
        )
    elif check.kind == "foreign key" and check.parent_empty:  # every row with its key set is an orphan
        query = sql.SQL("SELECT count(*) OVER (), {key} FROM {t} AS c WHERE {set}{partly} LIMIT 1").format(
            key=key, t=target, set=_all_set("c", check.columns), partly=_partly(check)
        )
    elif check.kind == "foreign key" and parent is not None and (check.ref_columns or parent.key):
        refs: list[sql.Composable] = [sql.Identifier(r) for r in check.ref_columns] or [
            sql.SQL(k) for k in parent.key.split(", ")
        ]
        match = sql.SQL(" AND ").join(
            sql.SQL("p.{} = c.{}").format(r, sql.Identifier(c)) for r, c in zip(refs, check.columns)
        )
        partly = _partly(check)
        query = sql.SQL(
            "SELECT count(*) OVER (), {key} FROM {t} AS c WHERE ({set} AND NOT EXISTS "
            "(SELECT 1 FROM {p} AS p WHERE {match}){partly}) LIMIT 1"
        ).format(
            key=key, t=target, set=_all_set("c", check.columns), p=sql.SQL(parent.regclass), match=match, partly=partly
        )
    else:
        return None
    return (limit + query).as_string(None)


def _partly(check: DataCheck) -> sql.Composable:
    """MATCH FULL: a key with some columns NULL, not all, fails too."""
    if not (check.match_full and len(check.columns) > 1):
        return sql.SQL("")
    return sql.SQL(" OR num_nulls({}) NOT IN (0, {})").format(
        sql.SQL(", ").join(sql.SQL("c.{}").format(sql.Identifier(c)) for c in check.columns),
        sql.Literal(len(check.columns)),
    )


def parse_check(rows: list[list[str]]) -> tuple[int, str, str]:
    """(failing count, example, what failed: '' or a key's 'null' / 'duplicate') from a check's rows;
    (0, '', '') when none fail."""
    if not rows:
        return 0, "", ""
    return int(rows[0][0]), rows[0][1], rows[0][2] if len(rows[0]) > 2 else ""
