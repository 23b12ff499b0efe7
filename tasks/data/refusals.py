"""
Why the copy cannot start, one line each with the fix (pure): large objects, FORCE ROW LEVEL
SECURITY, columns that differ by name or type (now, or after the pending migrations, from the
expected schema), a table the target lacks, a conflict, and what a replace would reach.
"""

from __future__ import annotations

import re

from tasks.data import cascades
from tasks.data.plan import Pending
from tasks.data.sides import Side


def large_objects_refusal(count: int, oids: str) -> str | None:
    """Pure: why the copy stops when the source has large objects (named by oid), or None."""
    if not count:
        return None
    return (
        f"the source has {count:,} large object(s) (oid {oids}{', …' if count > 5 else ''}): the copy does not "
        "move large objects: move them with pg_dump --large-objects | pg_restore, or store them in bytea columns"
    )


def force_rls_refusal(tables: list[str], side: str) -> str | None:
    """Pure: the one line refusing a copy that meets FORCE ROW LEVEL SECURITY tables, or None."""
    if not tables:
        return None
    return (
        f"table(s) {', '.join(tables)} in the {side} have FORCE ROW LEVEL SECURITY: their owner's COPY into them "
        "fails and its reads (the copy's, the backup's) see only what the policies allow: nothing was changed; "
        "connect as a role with BYPASSRLS (ALTER ROLE … BYPASSRLS), or ALTER TABLE … NO FORCE ROW LEVEL SECURITY "
        "for the copy and FORCE again after it"
    )


def missing_refusal(table: str) -> str:
    return f"table {table} exists in the source but not in the target: create it in a migration first"


def quoted(name: str) -> str:
    """Pure: a column name as SQL would need it written."""
    return name if re.fullmatch(r"[a-z_][a-z0-9_]*", name) else '"' + name.replace('"', '""') + '"'


def column_problems(table: str, source: list[str], target: list[str]) -> list[str]:
    """Pure: the columns on one side only, one line each with the fix."""
    return [
        f"table {table}: column {quoted(c)} is in the source but not in the target: add it in a migration "
        "(or drop it from the source)"
        for c in source
        if c not in target
    ] + [
        f"table {table}: column {quoted(c)} is in the target but not in the source: drop it in a migration "
        "or add it to the source (a generated column is left to the target)"
        for c in target
        if c not in source
    ]


def column_refusals(source: Side, target: Side) -> list[str]:
    """Pure: for each table with rows in the source that the target has, the columns that cannot be
    copied by name: on one side only, or of another type (binary COPY would reinterpret the bytes)."""
    problems = []
    for table, want in sorted(source.tables.items()):
        if not want.rows or table not in target.columns or table not in source.columns:
            continue
        problems += table_refusals(table, source.columns[table], target.columns[table])
    return problems


def table_refusals(table: str, theirs: dict[str, str], ours: dict[str, str]) -> list[str]:
    """Pure: why one table's columns (name -> type, the source's ``theirs``, the target's ``ours``) cannot
    be copied by name: a column on one side only, or of another type."""
    return column_problems(table, list(theirs), list(ours)) + [
        type_refusal(table, column, kind, ours[column])
        for column, kind in theirs.items()
        if column in ours and ours[column] != kind
    ]


def type_refusal(table: str, column: str, source_type: str, target_type: str) -> str:
    return (
        f"table {table}: column {quoted(column)} is {source_type} in the source but {target_type} in the target: "
        "nothing was copied; give it the same type on both sides in a migration"
    )


def conflict_refusal(table: str, target_rows: int, source_rows: int) -> str:
    return (
        f"table {table} in the target is not empty and differs from the source ({target_rows:,} rows there, "
        f"{source_rows:,} in the source): nothing was copied; set COPY_CONFLICT=replace to reload it (a target "
        "backup is taken first)"
    )


def expected_tables(catalog: dict) -> dict[str, dict[str, str]]:
    """Pure: the tables of an expected schema (the proof's catalog, :mod:`tasks.schema.catalog`) by
    'schema.table', each with the columns the copy writes (generated ones left out) and their types."""
    tables = {}
    for name, table in (catalog.get("tables") or {}).items():
        if table.get("kind") != "table":
            continue  # a partitioned table holds no rows: its partitions are tables
        columns = sorted((table.get("columns") or {}).items(), key=lambda item: item[1].get("position", 0))
        tables[name] = {column: value["type"] for column, value in columns if not value.get("generated")}
    return tables


def foreseen_refusals(source: Side, expected: dict[str, dict[str, str]]) -> list[str]:
    """Pure: what the copy would refuse once the pending migrations have run, from the expected
    schema: each source table with rows that the migrations leave out, or whose columns they name
    or type otherwise. Said before the backup and before any migration."""
    problems = []
    after = "the schema after the pending migrations"
    fix = "nothing was changed; make the same change in the source first (or use DATA_MIGRATION=fresh)"
    for table, want in sorted(source.tables.items()):
        plain = source.plain.get(table, table)
        if not want.rows or table not in source.columns:
            continue
        if plain not in expected:
            problems.append(f"table {table} has rows in the source but is not in {after}: {fix}")
            continue
        theirs, ours = source.columns[table], expected[plain]
        problems += [
            f"table {table}: column {quoted(c)} is in the source but not in {after}: {fix}"
            for c in theirs
            if c not in ours
        ]
        problems += [
            f"table {table}: column {quoted(c)} is in {after} but not in the source: {fix}"
            for c in ours
            if c not in theirs
        ]
        problems += [
            f"table {table}: column {quoted(c)} is {kind} in the source but {ours[c]} in {after}: {fix}"
            for c, kind in theirs.items()
            if c in ours and ours[c] != kind
        ]
    return problems


def refusal(
    source: Side, target: Side, todo: Pending, planning: bool, expected: dict[str, dict[str, str]] | None = None
) -> str | None:
    """Pure: why the copy cannot start, or None. A table missing in the target is no reason while
    planning: the migrations before the copy may create it. With migrations pending, ``expected``
    (:func:`expected_tables`) is what the copy will meet: the columns are compared with it."""
    if source.large_objects[0]:
        return large_objects_refusal(*source.large_objects)
    forced = force_rls_refusal(source.force_rls, "source") or force_rls_refusal(target.force_rls, "target")
    if forced:
        return forced
    columns = column_refusals(source, target) if expected is None else foreseen_refusals(source, expected)
    if columns:
        return columns[0] + (f" (and {len(columns) - 1} more problem(s))" if len(columns) > 1 else "")
    if todo.missing and not planning:
        return missing_refusal(todo.missing[0])
    conflicts = todo.conflicts
    if expected is not None:  # a table the migrations change is compared after them, by the copy itself
        conflicts = [
            (want, have)
            for want, have in conflicts
            if target.columns.get(want.name) == expected.get(source.plain.get(want.name, want.name))
        ]
    if conflicts:
        want, have = conflicts[0]
        return conflict_refusal(want.name, have.rows, want.rows)
    if todo.replace:
        tree = cascades.reached(todo.replace, target.cascades)
        rules = sorted(rule for rule in target.rules if rule[0] in tree)
        why = cascades.rules_refusal(rules, [t for t in todo.replace if t not in {c.child for c in todo.cascaded}])
        if why:
            return why
    return cascades.refusal(todo.lost)
