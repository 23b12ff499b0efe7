"""
What the same DDL shows differently in the catalogs of different PostgreSQL majors (pure).

The expected schema is proven on the source's server (15, like docker-compose.yml) and compared
with the target's (Heroku's default is 17). Two things the same migrations leave differently there:

* ``pg_get_viewdef``: from 16 on, a column of a query with a single relation is printed without
  the relation's name (``SELECT id FROM t`` where 15 prints ``SELECT t.id FROM t``);
* identity columns: from 17 on, a partition's column shows its parent's identity (``a``/``d``),
  where 15 and 16 show none.

:func:`normalize` rewrites a snapshot so both read alike; the diff then reports real differences only.
"""

from __future__ import annotations

import copy
from typing import Any

from pglast import ast, parse_sql
from pglast.stream import RawStream
from pglast.visitors import Skip, Visitor


class _Unqualify(Visitor):
    """In every SELECT over exactly one relation, ``rel.col`` → ``col`` (as 16+ prints it)."""

    def visit_SelectStmt(self, ancestors, node):
        froms = node.fromClause or ()
        if len(froms) != 1 or not isinstance(froms[0], ast.RangeVar):
            return None
        relation = froms[0].alias.aliasname if froms[0].alias else froms[0].relname
        _Strip(relation, node)(node)
        return None


class _Strip(Visitor):
    def __init__(self, relation: str, root):
        super().__init__()
        self.relation, self.root = relation, root

    def visit_SelectStmt(self, ancestors, node):
        return None if node is self.root else Skip  # a subquery has relations of its own

    def visit_ColumnRef(self, ancestors, node):
        fields = node.fields
        if len(fields) == 2 and isinstance(fields[0], ast.String) and fields[0].sval == self.relation:
            return ast.ColumnRef(fields=(fields[1],), location=node.location)
        return None


def view_definition(text: str) -> str:
    """A view's query as 16+ prints it, one line (unchanged when it cannot be parsed)."""
    try:
        tree = parse_sql(text)
        _Unqualify()(tree)
        return RawStream()(tree)
    except Exception:  # noqa: BLE001 (pglast raises several kinds; the text is then compared as is)
        return text


def normalize(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A copy of a catalog snapshot that reads the same on PostgreSQL 15, 16 and 17."""
    found = copy.deepcopy(snapshot)
    for view in (found.get("views") or {}).values():
        if isinstance(view, dict) and isinstance(view.get("definition"), str):
            view["definition"] = view_definition(view["definition"])
    for table in (found.get("tables") or {}).values():
        if isinstance(table, dict) and table.get("partition_bound"):
            for column in (table.get("columns") or {}).values():
                if isinstance(column, dict):
                    column["identity"] = None  # the parent's identity (17) or none (15, 16)
    return found
