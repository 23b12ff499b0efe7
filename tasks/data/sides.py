"""
One database as the copy sees it, from one script per side (the ``CopyState`` fact): tables with
their row counts and checksums (partitions under their parent), materialized views, sequences,
column types, large objects, and what a replace would act through. Pure apart from the script's SQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from tasks.data import cascades, relations
from tasks.data.checksum import PINNED_FORMAT, queries_sql


@dataclass(frozen=True)
class Relation:
    name: str
    parent: str  # top of its partition or inheritance tree, '' on its own
    rows: int
    checksum: str  # '' when only counted


@dataclass
class Side:
    """One database as the copy sees it."""

    tables: dict[str, Relation] = field(default_factory=dict)
    views: dict[str, Relation] = field(default_factory=dict)  # populated ones only
    unpopulated_views: set[str] = field(default_factory=set)
    sequences: dict[str, tuple[int, int]] = field(default_factory=dict)  # (next value, increment)
    large_objects: tuple[int, str] = (0, "")
    columns: dict[str, dict[str, str]] = field(default_factory=dict)  # table -> column -> type
    cascades: list[cascades.Cascade] = field(default_factory=list)  # read only when asked (a replace)
    plain: dict[str, str] = field(default_factory=dict)  # table as the copy names it -> 'schema.table'
    rules: list[tuple[str, str]] = field(default_factory=list)  # (table, rule): DELETE rules, read with cascades
    force_rls: list[str] = field(default_factory=list)  # FORCE ROW LEVEL SECURITY tables the role is not exempt from
    violations: list[tuple[str, str, str, int]] = field(default_factory=list)  # (file, table, constraint, rows)
    sequence_columns: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)  # owner's (max, min)
    resuming: set[str] = field(default_factory=set)  # tables an interrupted copy left half-copied (its journal)
    set_aside: int = 0  # indexes, keys and triggers an interrupted copy has still to put back


def _named(names: list[str] | None) -> str:
    """SQL: ``name`` is one of ``names`` (None: every name)."""
    if names is None:
        return "true"
    return "name IN (SELECT jsonb_array_elements_text(" + "'" + json.dumps(names).replace("'", "''") + "'::jsonb))"


def script(
    checksums_for: list[str] | None = None, counts_for: list[str] | None = None, with_cascades: bool = False
) -> str:
    """What reads one side (run it with :func:`read`): each table with its checksum when it is in ``checksums_for``
    (all when None), else counted when in ``counts_for`` (all when None), else only whether it has a row
    (rows 1 or 0); populated views with checksums, sequences, large objects, and an ``end`` row
    (so an empty database still gives output). ``with_cascades``: the foreign keys a DELETE acts
    through, each with the child rows it would act on (:mod:`tasks.data.cascades`)."""
    tables = f"SELECT name, oid FROM ({relations.TABLES_SQL}) x(name, oid, parent)"
    views = (
        f"SELECT format('%I.%I', n.nspname, c.relname), c.oid"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        f" WHERE c.relkind = 'm' AND c.relispopulated AND {relations.USER_SCHEMA} AND {relations.NOT_OURS}"
    )
    wrap = (
        "SELECT 'gexec', format('SELECT %L, q.* FROM (%s) q', {tag}, query)"
        " FROM ({queries}) g(name, query) WHERE {where};\n"
    )
    summed, counted = _named(checksums_for), _named(counts_for)
    return (
        f"{PINNED_FORMAT};\n"
        f"SELECT 'table', name, parent FROM ({relations.TABLES_SQL}) x(name, oid, parent);\n"
        f"SELECT 'plain', x.name, n.nspname || '.' || c.relname FROM ({relations.TABLES_SQL}) x(name, oid, parent)"
        " JOIN pg_class c ON c.oid = x.oid::oid JOIN pg_namespace n ON n.oid = c.relnamespace;\n"
        f"SELECT 'view', name, populated FROM ({relations.MATVIEWS_SQL}) x(name, populated);\n"
        f"SELECT 'sequence', name, next, increment FROM ({relations.SEQUENCES_SQL}) x(name, next, increment, lo, hi);\n"
        f"SELECT 'column', * FROM ({relations.COLUMN_TYPES_SQL}) x;\n"
        f"SELECT 'lo', * FROM ({relations.LARGE_OBJECTS_SQL}) x;\n"
        f"SELECT 'forcerls', * FROM ({relations.FORCE_RLS_SQL}) x;\n"
        + SEQUENCE_COLUMNS_SQL
        + ";\n"
        + JOURNAL_SQL
        + wrap.format(tag="'trows'", queries=queries_sql(tables), where=summed)
        + wrap.format(tag="'trows'", queries=queries_sql(tables, checksums=False), where=f"NOT {summed} AND {counted}")
        + wrap.format(
            tag="'trows'", queries=queries_sql(tables, exists_only=True), where=f"NOT {summed} AND NOT {counted}"
        )
        + wrap.format(tag="'vrows'", queries=queries_sql(views), where="true")
        + (cascades.COUNTS_SQL + ";\n" + RULES_SQL if with_cascades else "")
        + "SELECT 'end', '', '';\n"
    )


# For each sequence a column's values come from: that column's largest and smallest value (the copy moves the
# target's sequence past the copied rows, :mod:`tasks.data.sequences`), one query each.
SEQUENCE_COLUMNS_SQL = f"""
SELECT 'gexec', format('SELECT %L, %L, max(%I)::numeric::text, min(%I)::numeric::text FROM %s',
                       'seqcol', seq, col, col, tbl)
  FROM ({relations.COLUMN_SEQUENCES_SQL}) x(seq, tbl, col)
"""

# The tables with a DELETE rule (a replace that reaches one is refused, :mod:`tasks.data.cascades`).
# What an interrupted copy left in its journal (tasks/data/journal.py), when there is one (a key and its
# index set aside: one object).
JOURNAL_SQL = (
    "SELECT 'gexec', 'SELECT DISTINCT ''resume'', coalesce((SELECT format(''%I.%I'', n.nspname, c.relname) "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = r.rel), r.tbl), '''' "
    "FROM pgconverge.copy_ranges r UNION ALL "
    "SELECT ''aside'', count(*) FILTER (WHERE kind <> ''keyindex'')::text, '''' FROM pgconverge.copy_set_aside' "
    "WHERE to_regclass('pgconverge.copy_ranges') IS NOT NULL "
    "AND to_regclass('pgconverge.copy_set_aside') IS NOT NULL;\n"
)

RULES_SQL = (
    "SELECT DISTINCT 'rule', format('%I.%I', n.nspname, c.relname), r.rulename::text FROM pg_rewrite r "
    "JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE r.ev_type = '4';\n"
)


def read(run, script: str) -> list[list[str]]:
    """The rows of ``script``, ``run(sql)`` giving the rows of a statement list (one round trip
    each): the catalog first, then every table's and view's query (its ``gexec`` rows) in one list."""
    rows = run(script)
    queries = [row[1] for row in rows if row[0] == "gexec"]
    if queries:
        rows += run(PINNED_FORMAT + ";\n" + ";\n".join(queries))
    return [row for row in rows if row[0] != "gexec"]


def parse(rows: list[list[str]]) -> Side:
    side = Side()
    parents: dict[str, str] = {}
    populated: dict[str, bool] = {}
    for row in rows:
        tag = row[0]
        if tag == "table":
            parents[row[1]] = row[2]
        elif tag == "view":
            populated[row[1]] = row[2] == "t"
        elif tag == "sequence":
            side.sequences[row[1]] = (int(row[2]), int(row[3]))
        elif tag == "column":
            side.columns.setdefault(row[1], {})[row[2]] = row[3]
        elif tag == "lo":
            side.large_objects = (int(row[1]), row[2])
        elif tag == "trows":
            side.tables[row[1]] = Relation(row[1], parents.get(row[1], ""), int(row[2]), row[3])
        elif tag == "vrows":
            side.views[row[1]] = Relation(row[1], "", int(row[2]), row[3])
        elif tag == "plain":
            side.plain[row[1]] = row[2]
        elif tag == "seqcol":
            side.sequence_columns[row[1]] = widest(
                side.sequence_columns.get(row[1]), (int(row[2]) if row[2] else None, int(row[3]) if row[3] else None)
            )
        elif tag == "violates":
            side.violations.append((row[1], row[2], row[3], int(row[4])))
        elif tag == "forcerls":
            side.force_rls.append(row[1])
        elif tag == "resume":
            side.resuming.add(row[1])
        elif tag == "aside":
            side.set_aside = int(row[1])
        elif tag == "rule":
            side.rules.append((row[1], row[2]))
        elif tag == "cascade":
            side.cascades.append(cascades.Cascade(row[1], row[2], row[3], row[4], int(row[5])))
    side.unpopulated_views = {name for name, is_populated in populated.items() if not is_populated}
    return side


def widest(
    have: tuple[int | None, int | None] | None, more: tuple[int | None, int | None]
) -> tuple[int | None, int | None]:
    """Pure: the largest and smallest values of a sequence's columns, with one more column's (a
    sequence the defaults of several tables share)."""
    if have is None:
        return more
    highs = [v for v in (have[0], more[0]) if v is not None]
    lows = [v for v in (have[1], more[1]) if v is not None]
    return (max(highs) if highs else None, min(lows) if lows else None)
