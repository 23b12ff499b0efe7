"""
The completeness check run after every copy, independent of the copy's own table list.

It enumerates, with its own query, every relation that can hold rows (tables at any place in a
partition or inheritance tree, populated materialized views) and the large objects, and requires
the target to have the same row count and checksum for each one that holds rows in the source.
Whatever the copy does not handle therefore fails the run by name, instead of being "converged".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

# Not built from tasks.data.relations on purpose: a relation that list misses must show up here.
RELATIONS_WITH_STORAGE_SQL = """
SELECT format('%I.%I', ns.nspname, rel.relname), rel.relkind = 'm'
  FROM pg_catalog.pg_class rel
  JOIN pg_catalog.pg_namespace ns ON ns.oid = rel.relnamespace
 WHERE rel.relkind IN ('r', 'm')
   AND rel.relpersistence IN ('p', 'u')
   AND (rel.relkind = 'r' OR rel.relispopulated)
   AND ns.nspname <> ALL (ARRAY['pg_catalog', 'information_schema', '_heroku', 'heroku_ext', 'pgconverge'])
   AND left(ns.nspname, 3) <> 'pg_'
   AND (ns.nspname, rel.relname) <> ('public', 'schema_migrations')
   AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend dep
                    WHERE dep.classid = 'pg_catalog.pg_class'::regclass AND dep.objid = rel.oid AND dep.deptype = 'e')
 ORDER BY 1
"""
# Each sequence's next value (what nextval() gives) and increment, read from the sequence itself.
SEQUENCE_STATES_SQL = """
SELECT format('%I.%I', seq.schemaname, seq.sequencename),
       (xpath('/row/n/text()', query_to_xml(format(
           'SELECT CASE WHEN is_called THEN last_value::numeric + %s ELSE last_value END AS n FROM %I.%I',
           seq.increment_by, seq.schemaname, seq.sequencename), false, true, '')))[1]::text::numeric, seq.increment_by
  FROM pg_catalog.pg_sequences seq
 WHERE seq.schemaname <> ALL (ARRAY['_heroku', 'heroku_ext'])
"""
LARGE_OBJECT_COUNT_SQL = "SELECT count(*) FROM pg_catalog.pg_largeobject_metadata"

State = tuple[int, str]  # (rows, checksum)
Sequence = tuple[int, int]  # (next value, increment)


def incomplete(
    source: Mapping[str, State],
    target: Mapping[str, State],
    large_objects: tuple[int, int],
    views: frozenset[str] = frozenset(),
    sequences: tuple[Mapping[str, Sequence], Mapping[str, Sequence]] = ({}, {}),
) -> list[str]:
    """Pure: one line per source relation holding rows whose target rows differ (empty: complete).
    Materialized ``views`` are compared by row count: their rows are derived, and a query may
    aggregate in another order on another server. ``sequences`` ({name: (next value, increment)} per
    side): a target sequence behind the source's is incomplete; one further on is the application's."""
    problems = []
    for name, (rows, digest) in sorted(source.items()):
        if rows == 0:
            continue
        have = target.get(name)
        if have is None:
            problems.append(f"{name}: {rows:,} rows in the source, no such relation in the target")
        elif have != (rows, digest) and not (name in views and have[0] == rows):
            problems.append(
                f"{name}: {rows:,} rows in the source, {have[0]:,} in the target"
                + (" with another checksum" if have[0] == rows else "")
            )
    for name, (value, _) in sorted(sequences[0].items()):
        if name not in sequences[1]:
            continue
        there, increment = sequences[1][name]
        if (value > there) if increment > 0 else (value < there):
            problems.append(f"sequence {name}: next value {value} in the source, behind it ({there}) in the target")
    if large_objects[0] != large_objects[1]:
        problems.append(f"large objects: {large_objects[0]:,} in the source, {large_objects[1]:,} in the target")
    return problems


def relations(conn) -> dict[str, bool]:
    """``{name: is a materialized view}``"""
    return dict(conn.execute(RELATIONS_WITH_STORAGE_SQL).fetchall())


def large_objects(conn) -> int:
    return conn.execute(LARGE_OBJECT_COUNT_SQL).fetchone()[0]


def check(src, dst, source_state: Callable[[str], State], target_state: Callable[[str], State]) -> list[str]:
    """Every source relation with rows equal in the target; ``*_state`` give (rows, checksum) by
    name (the copy's values where it already has them, computed otherwise)."""
    kinds = relations(src)
    source = {name: source_state(name) for name in kinds}
    present = set(relations(dst))
    target = {name: target_state(name) for name in source if name in present and source[name][0]}
    views = frozenset(name for name, is_view in kinds.items() if is_view)
    source_seqs, target_seqs = (
        {name: (int(nxt), int(inc)) for name, nxt, inc in conn.execute(SEQUENCE_STATES_SQL)} for conn in (src, dst)
    )
    return incomplete(source, target, (large_objects(src), large_objects(dst)), views, (source_seqs, target_seqs))
