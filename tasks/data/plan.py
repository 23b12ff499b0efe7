"""
The copy's plan as the deploy shows it, from one script per side (the ``CopyState`` fact):
tables with their row counts (partitions under their parent), materialized views to refresh,
sequences to set, large objects. Pure apart from the script's SQL.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from tasks.data import cascades, relations
from tasks.data.checksum import PINNED_FORMAT, queries_sql
from tasks.data.sequences import ahead


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


def script(checksums_for: list[str] | None = None, counts_for: list[str] | None = None,
           with_cascades: bool = False) -> str:
    """What reads one side (run it with :func:`read`): each table with its checksum when it is in ``checksums_for``
    (all when None), else counted when in ``counts_for`` (all when None), else only whether it has a row
    (rows 1 or 0); populated views with checksums, sequences, large objects, and an ``end`` row
    (so an empty database still gives output). ``with_cascades``: the foreign keys a DELETE acts
    through, each with the child rows it would act on (:mod:`tasks.data.cascades`)."""
    tables = f"SELECT name, oid FROM ({relations.TABLES_SQL}) x(name, oid, parent)"
    views = (f"SELECT format('%I.%I', n.nspname, c.relname), c.oid"
             " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
             f" WHERE c.relkind = 'm' AND c.relispopulated AND {relations.USER_SCHEMA} AND {relations.NOT_OURS}")
    wrap = ("SELECT 'gexec', format('SELECT %L, q.* FROM (%s) q', {tag}, query)"
            " FROM ({queries}) g(name, query) WHERE {where};\n")
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
        + SEQUENCE_COLUMNS_SQL + ";\n"
        + JOURNAL_SQL
        + wrap.format(tag="'trows'", queries=queries_sql(tables), where=summed)
        + wrap.format(tag="'trows'", queries=queries_sql(tables, checksums=False), where=f"NOT {summed} AND {counted}")
        + wrap.format(tag="'trows'", queries=queries_sql(tables, exists_only=True),
                      where=f"NOT {summed} AND NOT {counted}")
        + wrap.format(tag="'vrows'", queries=queries_sql(views), where="true")
        + (cascades.COUNTS_SQL + ";\n" + RULES_SQL if with_cascades else "")
        + "SELECT 'end', '', '';\n"
    )


# For each sequence owned by a column: that column's largest and smallest value (the copy moves the
# target's sequence past the copied rows, :mod:`tasks.data.sequences`), one query each.
SEQUENCE_COLUMNS_SQL = f"""
SELECT 'gexec', format('SELECT %L, %L, max(%I)::numeric::text, min(%I)::numeric::text FROM %s',
                       'seqcol', seq, col, col, tbl)
  FROM ({relations.OWNED_SEQUENCES_SQL}) x(seq, tbl, col)
"""

# What an interrupted copy left in its journal (tasks/data/journal.py), when there is one.
JOURNAL_SQL = ("SELECT 'gexec', 'SELECT DISTINCT ''resume'', tbl, '''' FROM pgconverge.copy_ranges UNION ALL "
               "SELECT ''aside'', count(*)::text, '''' FROM pgconverge.copy_set_aside' "
               "WHERE to_regclass('pgconverge.copy_ranges') IS NOT NULL "
               "AND to_regclass('pgconverge.copy_set_aside') IS NOT NULL;\n")

# The tables with a DELETE rule (a replace that reaches one is refused, :mod:`tasks.data.cascades`).
RULES_SQL = ("SELECT DISTINCT 'rule', format('%I.%I', n.nspname, c.relname), r.rulename::text FROM pg_rewrite r "
             "JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace "
             "WHERE r.ev_type = '4';\n")


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
            side.sequence_columns[row[1]] = (int(row[2]) if row[2] else None, int(row[3]) if row[3] else None)
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


def large_objects_refusal(count: int, oids: str) -> str | None:
    """Pure: why the copy stops when the source has large objects (named by oid), or None."""
    if not count:
        return None
    return (f"the source has {count:,} large object(s) (oid {oids}{', …' if count > 5 else ''}): the copy does not "
            "move large objects: move them with pg_dump --large-objects | pg_restore, or store them in bytea columns")


def force_rls_refusal(tables: list[str], side: str) -> str | None:
    """Pure: the one line refusing a copy that meets FORCE ROW LEVEL SECURITY tables, or None."""
    if not tables:
        return None
    return (f"table(s) {', '.join(tables)} in the {side} have FORCE ROW LEVEL SECURITY: their owner's COPY into them "
            "fails and its reads (the copy's, the backup's) see only what the policies allow: nothing was changed; "
            "connect as a role with BYPASSRLS (ALTER ROLE … BYPASSRLS), or ALTER TABLE … NO FORCE ROW LEVEL SECURITY "
            "for the copy and FORCE again after it")


def missing_refusal(table: str) -> str:
    return f"table {table} exists in the source but not in the target: create it in a migration first"


def quoted(name: str) -> str:
    """Pure: a column name as SQL would need it written."""
    return name if re.fullmatch(r"[a-z_][a-z0-9_]*", name) else '"' + name.replace('"', '""') + '"'


def column_problems(table: str, source: list[str], target: list[str]) -> list[str]:
    """Pure: the columns on one side only, one line each with the fix."""
    return ([f"table {table}: column {quoted(c)} is in the source but not in the target: add it in a migration "
             "(or drop it from the source)" for c in source if c not in target]
            + [f"table {table}: column {quoted(c)} is in the target but not in the source: drop it in a migration "
               "or add it to the source (a generated column is left to the target)" for c in target if c not in source])


def column_refusals(source: Side, target: Side) -> list[str]:
    """Pure: for each table with rows in the source that the target has, the columns that cannot be
    copied by name: on one side only, or of another type (binary COPY would reinterpret the bytes)."""
    problems = []
    for table, want in sorted(source.tables.items()):
        if not want.rows or table not in target.columns or table not in source.columns:
            continue
        theirs, ours = source.columns[table], target.columns[table]
        problems += column_problems(table, list(theirs), list(ours))
        problems += [type_refusal(table, column, kind, ours[column])
                     for column, kind in theirs.items() if column in ours and ours[column] != kind]
    return problems


def type_refusal(table: str, column: str, source_type: str, target_type: str) -> str:
    return (f"table {table}: column {quoted(column)} is {source_type} in the source but {target_type} in the target: "
            "nothing was copied; give it the same type on both sides in a migration")


def conflict_refusal(table: str, target_rows: int, source_rows: int) -> str:
    return (f"table {table} in the target is not empty and differs from the source ({target_rows:,} rows there, "
            f"{source_rows:,} in the source): nothing was copied; set COPY_CONFLICT=replace to reload it (a target "
            "backup is taken first)")


@dataclass
class Pending:
    copy: list[str] = field(default_factory=list)
    replace: list[str] = field(default_factory=list)
    conflicts: list[tuple[Relation, Relation]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    views: list[str] = field(default_factory=list)
    sequences: list[tuple[str, int]] = field(default_factory=list)  # (name, next value)
    in_sync: int = 0
    set_aside: int = 0  # indexes, keys and triggers an interrupted copy has still to put back
    cascaded: list[cascades.Cascade] = field(default_factory=list)  # children a replace acts on: reloaded
    lost: list[cascades.Cascade] = field(default_factory=list)  # children whose rows a replace would lose

    @property
    def anything(self) -> bool:
        return bool(self.copy or self.replace or self.missing or self.views or self.sequences or self.set_aside)


def need_checksums(target: Side) -> list[str]:
    """The source tables whose checksum decides the plan: those not empty in the target."""
    return sorted(name for name, relation in target.tables.items() if relation.rows and name not in target.resuming)


def pending(source: Side, target: Side, replace: bool) -> Pending:
    """Pure: what the copy will write (the same rules as :func:`tasks.data.copy.compare`)."""
    todo = Pending(set_aside=target.set_aside)
    for name, want in sorted(source.tables.items()):
        have = target.tables.get(name)
        if want.rows == 0:
            todo.in_sync += 1
        elif have is None:
            todo.missing.append(name)
        elif have.rows == 0 or name in target.resuming:
            todo.copy.append(name)
        elif (have.rows, have.checksum) == (want.rows, want.checksum):
            todo.in_sync += 1
        elif replace:
            todo.replace.append(name)
        else:
            todo.conflicts.append((want, have))
    if todo.replace:
        reloadable = {name for name, want in source.tables.items() if want.rows and name in target.tables
                      and (target.tables[name].rows, target.tables[name].checksum) == (want.rows, want.checksum)}
        todo.cascaded, todo.lost = cascades.follow(todo.replace, target.cascades, reloadable)
        todo.replace += [c.child for c in todo.cascaded]
        todo.in_sync -= len(todo.cascaded)
    rows_to_write = bool(todo.copy or todo.replace or todo.missing)
    for name, want in source.views.items():
        have = target.views.get(name)
        # derived rows: refreshed after the tables change, or when unpopulated or of another size;
        # one the target lacks yet is listed too when rows are written (the migrations create it)
        if (name in target.views or name in target.unpopulated_views or rows_to_write) and (
            rows_to_write or have is None or have.rows != want.rows
        ):
            todo.views.append(name)
    for name, (value, increment) in sorted(source.sequences.items()):
        # the value that will be set: the source's next, or past the copied rows of the owning column
        largest, smallest = source.sequence_columns.get(name, (None, None))
        extreme = largest if increment > 0 else smallest
        if extreme is not None and ahead(extreme + increment, value, increment):
            value = extreme + increment
        # only forward: a target sequence already further (the application's) is left alone
        if name not in target.sequences or ahead(value, *target.sequences[name]):
            todo.sequences.append((name, value))
    return todo


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
        problems += [f"table {table}: column {quoted(c)} is in the source but not in {after}: {fix}"
                     for c in theirs if c not in ours]
        problems += [f"table {table}: column {quoted(c)} is in {after} but not in the source: {fix}"
                     for c in ours if c not in theirs]
        problems += [f"table {table}: column {quoted(c)} is {kind} in the source but {ours[c]} in {after}: {fix}"
                     for c, kind in theirs.items() if c in ours and ours[c] != kind]
    return problems


def refusal(source: Side, target: Side, todo: Pending, planning: bool,
            expected: dict[str, dict[str, str]] | None = None) -> str | None:
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
        conflicts = [(want, have) for want, have in conflicts
                     if target.columns.get(want.name) == expected.get(source.plain.get(want.name, want.name))]
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


CONNECTION_RESERVE = 3  # left free for the app, an operator's psql and the deploy's own checks


def capped_jobs(jobs: int, free: int, reserve: int = CONNECTION_RESERVE) -> int:
    """Pure: the tables loaded at once: ``COPY_JOBS``, at most the target's free connections less a
    reserve (each job holds one target connection), at least one."""
    return max(1, min(jobs, free - reserve))


def plan_lines(source: Side, target: Side, todo: Pending) -> list[str]:
    """What the dry run shows: tables with row counts, partitions and children under their parent."""
    lines = []
    groups: dict[str, list[str]] = {}
    for name in todo.copy + todo.missing:
        groups.setdefault(source.tables[name].parent or name, []).append(name)
    for top, members in sorted(groups.items()):
        rows = sum(source.tables[m].rows for m in members)
        if members == [top]:
            lines.append(f"copy {rows:,} rows into {top}")
            continue
        lines.append(f"copy {rows:,} rows into {top} ({len(members)} partition(s) or child table(s)):")
        lines += [f"  {m}: {source.tables[m].rows:,} rows" for m in members]
    cascaded = {c.child: c for c in todo.cascaded}
    lines += [f"replace {t}: {target.tables[t].rows:,} rows there, {source.tables[t].rows:,} in the source"
              for t in todo.replace if t not in cascaded]
    lines += [f"replacing {c.parent} {c.describe()}: reloaded from the source ({source.tables[c.child].rows:,} rows)"
              for c in todo.cascaded]
    lines += [f"refresh materialized view {view}" for view in todo.views]
    if todo.set_aside:
        lines.append(f"put back {todo.set_aside} index(es), key(s) and trigger(s) an interrupted copy set aside")
    lines += [f"move sequence {name} forward to the source's (next value {value:,})"
              if value == source.sequences[name][0] else
              f"move sequence {name} forward past the copied rows (next value {value:,})"
              for name, value in todo.sequences]
    return lines
