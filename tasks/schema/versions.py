"""
What the same DDL shows differently in the catalogs of different PostgreSQL majors (pure).

The expected schema is proven on the source's server (15, like docker-compose.yml) and compared
with the target's (Heroku's default is 17). Two things the same migrations leave differently there:

* ``pg_get_viewdef``: from 16 on, a column of a query with a single relation is printed without
  the relation's name (``SELECT id FROM t`` where 15 prints ``SELECT t.id FROM t``);
* identity columns: from 17 on, a partition's column shows its parent's identity (``a``/``d``),
  where 15 and 16 show none.

:func:`normalize` rewrites a snapshot so both read alike; the diff then reports real differences only.
:func:`normalize_pair` does it for two snapshots at once, parsing only the views whose text differs
(a converged run on one major parses none). What a view's text becomes is kept between runs
(:func:`keep_views_in`, the run's state folder), so a converged run across majors parses none either.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from tasks.core.private import read_regular_text

RULES = 1  # bumped whenever view_definition's rewriting changes: what was kept is then redone
_kept: dict[str, str] = {}  # sha256 of a view's text -> its rewriting
_kept_file: Path | None = None
_added = False
_save = True


@functools.cache
def _visitors():
    """pglast's visitors, loaded when a view's text must be parsed (not with the module)."""
    from pglast import ast
    from pglast.visitors import Skip, Visitor

    class Unqualify(Visitor):
        """In every SELECT over exactly one relation, ``rel.col`` → ``col`` (as 16+ prints it)."""

        def visit_SelectStmt(self, ancestors, node):
            froms: tuple = node.fromClause or ()
            if len(froms) != 1 or not isinstance(froms[0], ast.RangeVar):
                return
            relation = froms[0].alias.aliasname if froms[0].alias else froms[0].relname
            Strip(relation, node)(node)
            return

    class Strip(Visitor):
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

    return Unqualify


def _key() -> str:
    from tasks.core.parser_version import parser_version

    return f"rules {RULES}, pglast {parser_version()}"


def keep_views_in(path: Path, save: bool = True) -> None:
    """Read (and later :func:`save_views` to, unless not ``save``) ``path`` what view texts became
    in earlier runs."""
    global _kept_file, _save
    _kept_file, _save = Path(path), save
    try:
        document = json.loads(read_regular_text(_kept_file))
        if document.get("key") == _key() and isinstance(document.get("views"), dict):
            _kept.update({k: v for k, v in document["views"].items() if isinstance(v, str)})
    except (OSError, ValueError, AttributeError):
        pass  # nothing kept yet, or damaged: the views are rewritten again


def save_views() -> None:
    """Keep what this run rewrote (only what the schemas still hold, at most a few thousand texts)."""
    global _added
    if not (_added and _kept_file and _save):
        return
    from tasks.core.private import write_private

    try:
        write_private(_kept_file, json.dumps({"key": _key(), "views": dict(list(_kept.items())[-4096:])}))
        _added = False
    except OSError:
        pass  # only a cache: the next run rewrites again


def view_definition(text: str) -> str:
    """A view's query as 16+ prints it, one line (unchanged when it cannot be parsed)."""
    global _added
    digest = hashlib.sha256(text.encode()).hexdigest()
    if digest not in _kept:
        _kept[digest] = _rewrite(text)
        _added = True
    return _kept[digest]


def _rewrite(text: str) -> str:
    try:
        from pglast import parse_sql
        from pglast.stream import RawStream

        tree = parse_sql(text)
        _visitors()()(tree)
        return RawStream()(tree)
    except Exception:  # noqa: BLE001 (pglast raises several kinds; the text is then compared as is)
        return text


def normalize(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A copy of a catalog snapshot that reads the same on PostgreSQL 15, 16 and 17."""
    views = {name: _view(view) for name, view in _mapping(snapshot, "views").items()}
    return _with(snapshot, views)


def normalize_pair(first: dict[str, Any], second: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """:func:`normalize` of both, where a view whose text is the same in both is left as it is."""
    ours, theirs = _mapping(first, "views"), _mapping(second, "views")
    differ = {name for name in set(ours) & set(theirs) if ours[name] != theirs[name]}
    return (
        _with(first, {name: _view(view) if name in differ else view for name, view in ours.items()}),
        _with(second, {name: _view(view) if name in differ else view for name, view in theirs.items()}),
    )


def _mapping(snapshot: dict[str, Any], key: str) -> dict:
    value = snapshot.get(key)
    return value if isinstance(value, dict) else {}


def _view(view):
    if isinstance(view, dict) and isinstance(view.get("definition"), str):
        return {**view, "definition": view_definition(view["definition"])}
    return view


def _with(snapshot: dict[str, Any], views: dict) -> dict[str, Any]:
    """A shallow copy of ``snapshot`` with these views and partitions' columns without identity."""
    found = dict(snapshot)
    if isinstance(snapshot.get("views"), dict):
        found["views"] = views
    if isinstance(snapshot.get("tables"), dict):
        found["tables"] = {name: _partition(table) for name, table in snapshot["tables"].items()}
    return found


# What a table may hold that snapshots taken before they were read do not: left out when none.
SECURITY_AND_STORAGE = ("row_security", "policies", "rules", "statistics", "storage")


def _ranked(table):
    """A table whose columns' ``position`` is their rank among the live columns: a dropped column leaves a
    gap in the physical numbers (attnum) that a restore, pg_dump or a re-added column closes or moves.
    Row security, policies, rules, statistics and storage options are left out when the table has none."""
    if isinstance(table, dict) and any(key in table and not table[key] for key in SECURITY_AND_STORAGE):
        table = {key: value for key, value in table.items() if key not in SECURITY_AND_STORAGE or value}
    columns = table.get("columns") if isinstance(table, dict) else None
    if not isinstance(columns, dict) or not all(isinstance(c, dict) for c in columns.values()):
        return table
    order = sorted(
        columns, key=lambda name: (columns[name].get("position") is None, columns[name].get("position") or 0)
    )
    return {
        **table,
        "columns": {
            name: {**columns[name], "position": order.index(name) + 1} if "position" in columns[name] else columns[name]
            for name in columns
        },
    }


def ranked(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A shallow copy of ``snapshot`` where every column's position is its rank among live columns."""
    if not isinstance(snapshot.get("tables"), dict):
        return snapshot
    return {**snapshot, "tables": {name: _ranked(table) for name, table in snapshot["tables"].items()}}


def _partition(table):
    table = _ranked(table)
    if not (isinstance(table, dict) and table.get("partition_bound") and isinstance(table.get("columns"), dict)):
        return table
    columns = {
        name: {**column, "identity": None} if isinstance(column, dict) else column  # the parent's identity
        for name, column in table["columns"].items()
    }  # (17) or none (15, 16)
    return {**table, "columns": columns}
