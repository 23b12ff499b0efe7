"""
What the copy will meet once the pending migrations have run: the expected schema's tables (the
proof's catalog), so that a copy bound to fail after a new migration is said before the backup and
before any migration.
"""

from __future__ import annotations

from pathlib import Path

from tasks.data import refusals as copyrefusals
from tasks.data.sides import Side
from tasks.migrations.files import Migration

# Expected schemas proven while planning (files not proven yet), by the files' set checksum: a
# confirmed run plans twice (before and after the prompt) and proves once.
proven_now: dict[str, dict | None] = {}


def expected_after(source: str, migrations: list[Migration], state_dir: str) -> dict[str, dict[str, str]] | None:
    """The tables and columns of the expected schema (:func:`tasks.data.refusals.expected_tables`), for a
    run with migrations pending. A set of files not proven yet is proven now on a throw-away shadow
    database of the ``source`` server (as the proof step does); None when that proof fails (the proof
    step then says why)."""
    from tasks.migrations import expected
    from tasks.migrations.files import set_checksum

    catalog = expected.load_expected(Path(state_dir), migrations)
    if catalog is None:
        key = set_checksum(migrations)
        if key not in proven_now:
            from tasks.migrations import shadow  # psycopg: only when a copy meets unproven migrations

            try:
                proven_now[key] = shadow.prove(source, migrations, lambda line: None)[0]
            except Exception:  # noqa: BLE001 - the proof step itself fails, and says why
                proven_now[key] = None
        catalog = proven_now[key]
    return copyrefusals.expected_tables(catalog) if catalog is not None else None


def differs_after(source_service: str, source: Side, target: Side, expected: dict[str, dict[str, str]]) -> str | None:
    """A table that holds rows in the target and gets, from the pending migrations, a column the source
    fills with values other than its default (what the target's rows get from the same file): after them
    the target's rows differ from the source's, and the copy (COPY_CONFLICT=refuse) would stop after the
    backup and the migrations. Said now, before both; the source is read (one EXISTS per such table, in
    a read-only transaction), never written."""
    for name in sorted(target.tables):
        plain = source.plain.get(name, name)
        have, want, there = target.columns.get(name) or {}, expected.get(plain) or {}, source.columns.get(name) or {}
        added = sorted(column for column in want if column not in have and column in there)
        if name in target.resuming:
            continue  # half-copied: the copy finishes it to the source's rows, whatever they are
        if added and target.tables[name].rows and name in source.tables and _filled(source_service, plain, added):
            return (
                f"table {plain}: the pending migrations add column(s) {', '.join(added)}, which the source "
                "fills with values other than the column's default, to a table that holds rows in the target: after "
                "them its rows will differ from the source's and the copy would refuse it; set COPY_CONFLICT=replace "
                "to reload it from the source (a target backup is taken first); nothing was changed"
            )
    return None


# The source's defaults of some columns of a table (what the same file gives the target's rows).
DEFAULTS_SQL = """
SELECT a.attname::text, pg_get_expr(d.adbin, d.adrelid)
  FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %s AND c.relname = %s AND a.attname = ANY(%s)
"""


def _filled(service: str, table: str, columns: list[str]) -> bool:
    """Whether a row of the source's ``table`` holds, in one of ``columns``, a value other than the
    column's default (NULL without one). A default that cannot be evaluated read-only (``nextval``):
    taken as filled."""
    import psycopg
    from psycopg import sql

    from tasks.core.connections import conninfo
    from tasks.migrations.session import connect

    schema, _, relation = table.rpartition(".")
    schema = schema or "public"
    with connect(conninfo(service)) as conn:
        defaults: dict[str, str] = dict(conn.execute(DEFAULTS_SQL, (schema, relation, columns)).fetchall())
        parts: list[sql.Composable] = [
            sql.SQL("{} IS DISTINCT FROM ({})").format(sql.Identifier(c), sql.SQL(defaults[c]))
            if c in defaults
            else sql.SQL("{} IS NOT NULL").format(sql.Identifier(c))
            for c in columns
        ]
        test = sql.SQL(" OR ").join(parts)
        query = sql.SQL("SELECT EXISTS (SELECT FROM {}.{} WHERE {})").format(
            sql.Identifier(schema), sql.Identifier(relation), test
        )
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION READ ONLY")
                row = conn.execute(query).fetchone()
        except psycopg.Error:  # a volatile default (nextval in a read-only transaction): not comparable
            return True
    return bool(row and row[0])
