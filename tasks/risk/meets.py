"""
Whether a data check can count the rows a pending statement will meet, given what the run did before
it (:mod:`tasks.risk.runstate`), and over which rows: the target's table, with the columns the run
adds to it. Pure. A table the run dropped or created, or a column it dropped or renamed, is "made in this run":
its rows are not the target's, so it is not checked (and not gated); rows an earlier statement may
change are not checked, and said so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from psycopg import sql

from tasks.risk import bound
from tasks.risk.checks import DataCheck
from tasks.risk.classify import Risk, bare
from tasks.risk.datacheck import relation_sql
from tasks.risk.runstate import Before
from tasks.risk.size import TableSize

COLUMN_KINDS = ("notnull", "new notnull", "new column", "foreign key")


@dataclass(frozen=True)
class Plan:
    """What to count: ``check`` over ``relation`` (None: the target's table); or nothing, with ``note`` saying
    why when the user should know ('' : made in this run or nothing that can fail)."""

    check: DataCheck | None = None
    relation: sql.Composable | None = None
    note: str = ""


def _named(check: DataCheck) -> tuple[str, ...]:
    """The plain columns a check names (an index's expressions left out)."""
    return tuple(c for c in check.columns if re.fullmatch(r"[^()\s]+", c))


def referenced(check: DataCheck) -> set[str]:
    """Every column a check reads: its columns, and those its CHECK condition, index expressions or
    predicate name (pglast's column references)."""
    from pglast import parse_sql
    from pglast.visitors import Visitor

    found = set(_named(check))
    texts = [check.expression, check.where, *check.keys]

    class Columns(Visitor):
        def visit_ColumnRef(self, ancestors, node):
            names = [f.sval for f in node.fields if hasattr(f, "sval")]
            if names:
                found.add(names[-1])

    for text in filter(None, texts):
        Columns()(parse_sql(f"SELECT {text}"))
    return found


def plan(risk: Risk, table: TableSize | None, before: Before, sizes: dict[str, TableSize]) -> Plan:
    check = risk.check
    if check is None or risk.remade or table is None or table.empty:
        return Plan()  # made in this run, or empty: nothing can fail
    if why := before.rows_differ(risk.table):
        return Plan(note=why)
    if risk.only and table.partitioned and check.kind == "unique":
        return Plan()  # ON ONLY a partitioned parent: the partitions are not scanned (the index is left invalid)
    name = bare(risk.table)
    if any((name, column) in before.columns for column in referenced(check)):
        return Plan()  # a column dropped or renamed in this run: made in this run
    if check.kind == "foreign key" and bare(check.references) in before.empty:
        check = replace(check, parent_empty=True)  # made empty in this run, nothing written since
    elif check.references and (
        bare(check.references) in before.remade
        or any((bare(check.references), column) in before.columns for column in check.ref_columns)
    ):
        return Plan()
    if check.kind == "partition":
        return _partition(check, before, sizes)
    new = {c: column for c, column in before.added.get(name, {}).items() if c not in table.columns}
    if check.kind in ("new notnull", "new column"):
        column = new.get(check.columns[0])
        if column is None or column.computed or column.generated:
            return Plan()  # there already (ADD COLUMN IF NOT EXISTS), filled from a sequence or generated
        if check.kind == "new column":
            if column.value != "NULL" or not (column.notnull or column.domain):
                return Plan()  # its type allows NULL, or it has a default
            check = replace(check, domain="" if column.notnull else column.domain)
    named = _named(check) if check.kind in COLUMN_KINDS or (check.kind == "unique" and not check.keys) else ()
    if missing := [c for c in named if c not in table.columns and c not in new]:
        return Plan(note=f"column {missing[0]} is not in the target's table {table.regclass}")
    if any(c in new and new[c].computed for c in _named(check)):
        return Plan()  # identity or serial: distinct values, never NULL
    if generated := [c for c in _named(check) if c in new and new[c].generated]:
        return Plan(note=f"column {generated[0]} is generated: its values are not computed by the check")
    if check.inexact:
        return Plan(note=check.inexact)
    return Plan(check, relation_sql(table, list(new.values())) if new else None)


def _partition(check: DataCheck, before: Before, sizes: dict[str, TableSize]) -> Plan:
    """ATTACH PARTITION: the rows outside the bound, with the key of the target's parent."""
    parent = None if bare(check.references) in before.remade else sizes.get(check.references)
    if parent is None or not parent.partkey:
        return Plan()  # the parent is made in this run: PostgreSQL's proof saw the attach
    outside = bound.outside(parent.partkey, parent.regclass, check.bound)
    if outside is None:
        return Plan(note="a default partition's rows are checked against every other partition's bound")
    return Plan(replace(check, expression=outside))
