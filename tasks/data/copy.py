"""
Data copied: the source's rows into the target, table by table, verified before each commit.

* The source is read in one REPEATABLE READ snapshot, so every table comes from the same moment.
* Each target table is filled in its own transaction: ``COPY ... TO STDOUT (FORMAT binary)`` on the
  source streamed into ``COPY ... FROM STDIN`` on the target, then the target's row count and
  content checksum are compared with the source's *before* COMMIT. A killed run, a lost
  connection or a mismatch leaves the table as it was.
* The source side of each stream is a ``psql`` process in the same exported snapshot, read in
  1 MiB blocks: relaying row by row through Python cost two waits per row (2.1x the time of
  ``pg_dump | pg_restore``). Only ``service=NAME`` is on its command line.
* Tables go in foreign-key order; sequences are then set to the source's values.
* A table whose rows already match is left alone, and so is a table that is empty in the source
  (seed files may fill it); a non-empty table that differs is refused unless
  ``COPY_CONFLICT=replace`` (its rows are deleted and reloaded in the same transaction).

The checksum is order-independent: the sum of the first 60 bits of each row's md5, with the text
form of values pinned (UTC, ISO dates, full float digits) so both servers render rows alike.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from typing import Callable

import psycopg
from psycopg import sql

from tasks.core.errors import ActionableError
from tasks.core.connections import conninfo
from tasks.core.lock import acquire_lock

PROGRESS_EVERY_S = 3.0
BLOCK = 1 << 20
# Row count and content checksum of a table aliased ``t``: used by the copy and by the plan's fact.
ROW_CHECKSUM = "count(*), coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint::numeric), 0)::text"
LOCK_WAIT_S = 60.0
PINNED_FORMAT = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3"
# Tables in foreign-key order (parents first); self references and the tracking table left out.
TABLES_SQL = """
WITH RECURSIVE t AS (
    SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS name
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'r' AND NOT c.relispartition
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_heroku', 'heroku_ext')
       AND n.nspname NOT LIKE 'pg\\_%'
       AND NOT (n.nspname = 'public' AND c.relname = 'schema_migrations')
       AND c.oid NOT IN (SELECT objid FROM pg_depend WHERE deptype = 'e')
), depth(oid, level) AS (
    SELECT oid, 0 FROM t
    UNION ALL
    SELECT f.conrelid, d.level + 1 FROM depth d
      JOIN pg_constraint f ON f.confrelid = d.oid AND f.contype = 'f' AND f.conrelid <> f.confrelid
     WHERE d.level < 50
)
SELECT t.name, max(d.level) AS level FROM t JOIN depth d ON d.oid = t.oid GROUP BY t.name ORDER BY level, t.name
"""
COLUMNS_SQL = """
SELECT a.attname FROM pg_attribute a
 WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
 ORDER BY a.attnum
"""
# A big table is loaded the way pg_restore loads one: its foreign keys and plain indexes are
# dropped, the rows copied, then the indexes built and the keys checked in bulk, all in the
# table's one transaction (so a failure or a kill leaves the table, keys and indexes as they were).
# Primary keys and unique indexes stay: other tables' foreign keys may rest on them.
BULK_FROM_ROWS = 10_000
DEFERRED_SQL = """
SELECT format('ALTER TABLE %%s DROP CONSTRAINT %%I', conrelid::regclass, conname),
       format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', conrelid::regclass, conname, pg_get_constraintdef(oid)), 2
  FROM pg_constraint WHERE conrelid = %(table)s::regclass AND contype = 'f'
UNION ALL
SELECT format('DROP INDEX %%s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid), 1
  FROM pg_index i
 WHERE i.indrelid = %(table)s::regclass AND NOT i.indisunique AND NOT i.indisprimary
   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
"""
SEQUENCES_SQL = """
SELECT format('%I.%I', schemaname, sequencename), last_value FROM pg_sequences
 WHERE last_value IS NOT NULL
"""


class CopyError(ActionableError, RuntimeError):
    """The copy was refused or failed; the message names the table and the way forward."""


@dataclass(frozen=True)
class TableState:
    table: str
    rows: int
    checksum: str


def checksum_sql(table: str) -> sql.Composed:
    schema, _, name = table.partition(".")
    return sql.SQL("SELECT " + ROW_CHECKSUM + " FROM {} t").format(sql.Identifier(schema.strip('"'), name.strip('"')))


def table_state(conn: psycopg.Connection, table: str) -> TableState:
    rows, digest = conn.execute(checksum_sql(table)).fetchone()
    return TableState(table, rows, digest)


def ordered_tables(conn: psycopg.Connection) -> list[str]:
    return [row[0] for row in conn.execute(TABLES_SQL).fetchall()]


@dataclass
class CopyPlan:
    copy: list[str]  # empty in the target: copy
    replace: list[str]  # differing, non-empty: replace (only with COPY_CONFLICT=replace)
    conflicts: list[tuple[TableState, TableState]]  # differing, non-empty, refused
    in_sync: list[str]
    missing_in_target: list[str]


def compare(source: dict[str, TableState], target: dict[str, TableState], order: list[str], replace: bool) -> CopyPlan:
    """Pure: what to do with each source table, in foreign-key order."""
    plan = CopyPlan([], [], [], [], [])
    for table in order:
        have, want = target.get(table), source[table]
        if have is None:
            plan.missing_in_target.append(table)
        elif want.rows == 0 or (have.rows, have.checksum) == (want.rows, want.checksum):
            # an empty source table has nothing to bring (seed files may fill it in the target)
            plan.in_sync.append(table)
        elif have.rows == 0:
            plan.copy.append(table)
        elif replace:
            plan.replace.append(table)
        else:
            plan.conflicts.append((want, have))
    return plan


def states(conn: psycopg.Connection, tables: list[str]) -> dict[str, TableState]:
    return {table: table_state(conn, table) for table in tables}


def _identifier(table: str) -> sql.Identifier:
    schema, _, name = table.partition(".")
    return sql.Identifier(schema.strip('"'), name.strip('"'))


@dataclass(frozen=True)
class Source:
    """The source side of the copy: its connection (holding the snapshot), service and snapshot id."""
    conn: psycopg.Connection
    service: str
    snapshot: str


def _reader(source: Source, out_query: str) -> subprocess.Popen:
    """A psql printing ``out_query``'s binary COPY stream, in the source's exported snapshot."""
    script = (f"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\nSET TRANSACTION SNAPSHOT '{source.snapshot}';\n"
              f"{out_query};\nCOMMIT;\n")
    process = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo(source.service), "-f", "-"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdin is not None
    process.stdin.write(script.encode())
    process.stdin.close()
    return process


def _copy_table(source: Source, dst: psycopg.Connection, table: str, want: TableState, replace: bool,
                log: Callable[[str], None]) -> int:
    columns = [row[0] for row in source.conn.execute(COLUMNS_SQL, (table,)).fetchall()]
    column_list = sql.SQL(", ").join(map(sql.Identifier, columns))
    out_query = sql.SQL("COPY {} ({}) TO STDOUT (FORMAT binary)").format(_identifier(table), column_list)
    in_query = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(_identifier(table), column_list)
    copied = 0
    started = last = time.monotonic()
    with dst.transaction():
        if replace:
            dst.execute(sql.SQL("DELETE FROM {}").format(_identifier(table)))
        deferred = dst.execute(DEFERRED_SQL, {"table": table}).fetchall() if want.rows >= BULK_FROM_ROWS else []
        for drop, _, _ in deferred:
            dst.execute(drop)
        reader = _reader(source, out_query.as_string(source.conn))
        try:
            with dst.cursor().copy(in_query) as writer:
                while block := reader.stdout.read(BLOCK):
                    writer.write(block)
                    copied += len(block)
                    if time.monotonic() - last >= PROGRESS_EVERY_S:
                        last = time.monotonic()
                        log(f"{table}: {copied / 1e6:,.0f} MB of {want.rows:,} rows copied ({last - started:.0f}s)")
                if reader.wait() != 0:
                    error = reader.stderr.read().decode(errors="replace").strip().splitlines()
                    raise CopyError(f"table {table}: reading the source failed ({error[0] if error else 'psql failed'}): "
                                    "rolled back; run again")
        finally:
            if reader.poll() is None:
                reader.kill()
            reader.wait()
            reader.stdout.close()
            reader.stderr.close()
        if deferred:
            log(f"{table}: building {sum(kind == 1 for *_, kind in deferred)} index(es) and checking "
                f"{sum(kind == 2 for *_, kind in deferred)} foreign key(s) in bulk")
        for _, create, _ in sorted(deferred, key=lambda row: row[2]):
            dst.execute(create)
        got = table_state(dst, table)
        if (got.rows, got.checksum) != (want.rows, want.checksum):
            raise CopyError(f"table {table}: after the copy the target has {got.rows:,} rows with another checksum "
                            f"than the source's {want.rows:,}: rolled back; run again")
    return copied


def _set_sequences(src: psycopg.Connection, dst: psycopg.Connection) -> int:
    count = 0
    for name, value in src.execute(SEQUENCES_SQL).fetchall():
        dst.execute(sql.SQL("SELECT setval({}, %s)").format(sql.Literal(name)), (value,))
        count += 1
    return count


def _copy_logged(source: Source, dst, table: str, want: TableState, replace: bool, log: Callable[[str], None]) -> None:
    started = time.monotonic()
    size = _copy_table(source, dst, table, want, replace, log)
    log(f"{table}: {'replaced' if replace else 'copied'} {want.rows:,} rows ({size / 1e6:,.1f} MB) "
        f"in {time.monotonic() - started:.1f}s, verified")


def copy_data(source_service: str, target_service: str, replace: bool, log: Callable[[str], None],
              before_replace: Callable[[], None] | None = None) -> CopyPlan:
    """Bring the target's rows to the source's; return what was done. ``before_replace`` runs first
    when a table will be replaced (the target backup)."""
    with psycopg.connect(conninfo(source_service)) as src, psycopg.connect(conninfo(target_service), autocommit=True) as dst:
        acquire_lock(dst, LOCK_WAIT_S, log)  # one copy at a time; the plan is made under the lock
        src.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        source_side = Source(src, source_service, src.execute("SELECT pg_export_snapshot()").fetchone()[0])
        for conn in (src, dst):
            conn.execute(PINNED_FORMAT)
        order = ordered_tables(src)
        source = states(src, order)
        target_tables = set(ordered_tables(dst))
        target = states(dst, [t for t in order if t in target_tables])
        plan = compare(source, target, order, replace)
        if plan.missing_in_target:
            raise CopyError(f"table {plan.missing_in_target[0]} exists in the source but not in the target: "
                            "create it in a migration first")
        if plan.conflicts:
            want, have = plan.conflicts[0]
            raise CopyError(f"table {want.table} in the target is not empty and differs from the source "
                            f"({have.rows:,} rows there, {want.rows:,} in the source): nothing was copied; "
                            "set COPY_CONFLICT=replace to reload it (a target backup is taken first)")
        if plan.replace and before_replace:
            before_replace()
        for table in plan.copy + plan.replace:
            _copy_logged(source_side, dst, table, source[table], table in plan.replace, log)
        # A replaced table's ON DELETE CASCADE may have emptied tables that were in sync: refill them.
        for table in plan.in_sync if plan.replace else []:
            if table_state(dst, table) != source[table]:
                _copy_logged(source_side, dst, table, source[table], True, log)
        if plan.copy or plan.replace:
            log(f"sequences: {_set_sequences(src, dst)} set to the source's values")
        return plan
