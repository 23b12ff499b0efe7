"""
Data copied: the source's rows into the target, table by table, verified before each commit.

* The source is read in one exported REPEATABLE READ snapshot, so every table comes from the same
  moment, whichever connection reads it.
* Every relation that holds rows is copied ``FROM ONLY`` itself (:mod:`tasks.data.relations`):
  plain tables, leaf partitions at any depth, inheritance parents and children. Columns are matched
  by name; a column on one side only is refused by name. Generated columns are left to the target.
* Each target table is filled in its own transaction: a binary ``COPY`` stream from a ``psql`` in
  the snapshot (only ``service=NAME`` on its command line), then the target's row count and
  checksum (:mod:`tasks.data.checksum`) are compared with the source's *before* COMMIT. A killed
  run, a lost connection or a mismatch leaves the table as it was.
* ``jobs`` tables load at once, each as soon as the tables it references are in; the source's
  checksum of a table is computed while it streams, once per run.
* Then materialized views populated in the source are refreshed, sequences set to the source's
  value (and past the largest value of the column that owns them), and the independent
  completeness check (:mod:`tasks.data.check`) must pass.
* A table whose rows already match is left alone, and so is a table that is empty in the source
  (seed files may fill it); a non-empty table that differs is refused unless
  ``COPY_CONFLICT=replace`` (its rows are deleted and reloaded in the same transaction).
"""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import psycopg
from psycopg import sql

from tasks.core.errors import ActionableError
from tasks.core.connections import conninfo
from tasks.core import waits
from tasks.core.lock import acquire_lock
from tasks.data import check, relations
from tasks.data.checksum import PINNED_FORMAT, queries_sql
from tasks.data.plan import (CONNECTION_RESERVE, capped_jobs, column_problems, conflict_refusal,  # noqa: F401
                             large_objects_refusal, missing_refusal, type_refusal)

PROGRESS_EVERY_S = 3.0
BLOCK = 1 << 20
LOCK_WAIT_S = 60.0
# A big table is loaded the way pg_restore loads one: its foreign keys and plain indexes are
# dropped, the rows copied, then the indexes built and the keys checked in bulk, all in the
# table's one transaction (so a failure or a kill leaves the table, keys and indexes as they were).
# Primary keys and unique indexes stay: other tables' foreign keys may rest on them.
BULK_FROM_BYTES = 8 << 20
DEFERRED_SQL = """
SELECT format('ALTER TABLE %%s DROP CONSTRAINT %%I', conrelid::regclass, conname),
       format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', conrelid::regclass, conname, pg_get_constraintdef(oid)), 2
  FROM pg_constraint WHERE conrelid = %(table)s::regclass AND contype = 'f' AND conparentid = 0
UNION ALL
SELECT format('DROP INDEX %%s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid), 1
  FROM pg_index i
 WHERE i.indrelid = %(table)s::regclass AND NOT i.indisunique AND NOT i.indisprimary
   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
   AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
"""
# Foreign keys between tables on one cycle (loaded together): dropped and added back around the load.
CYCLE_SQL = """
SELECT format('ALTER TABLE %%s DROP CONSTRAINT %%I', conrelid::regclass, conname),
       format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', conrelid::regclass, conname, pg_get_constraintdef(oid)), 2
  FROM pg_constraint
 WHERE conrelid = %(table)s::regclass AND contype = 'f' AND conparentid = 0 AND conrelid <> confrelid
   AND confrelid = ANY(%(group)s::regclass[])
"""
# When a table is replaced: the foreign keys of other tables that rest on it and would refuse its
# DELETE (NO ACTION, RESTRICT), dropped around the reload and added back (checked) before commit.
REFERENCING_SQL = """
SELECT format('ALTER TABLE %%s DROP CONSTRAINT %%I', conrelid::regclass, conname),
       format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', conrelid::regclass, conname, pg_get_constraintdef(oid)), 3
  FROM pg_constraint
 WHERE contype = 'f' AND conparentid = 0 AND confdeltype IN ('a', 'r') AND conrelid <> ALL(%(group)s::regclass[])
   AND (confrelid = %(table)s::regclass OR confrelid IN (SELECT relid FROM pg_partition_ancestors(%(table)s::regclass)))
"""
SIZE_SQL = "SELECT pg_relation_size(%s::regclass)"


class CopyError(ActionableError, RuntimeError):
    """The copy was refused or failed; the message names the table and the way forward."""


@dataclass(frozen=True)
class TableState:
    table: str
    rows: int
    checksum: str


@dataclass
class CopyPlan:
    copy: list[str]  # empty in the target: copy
    replace: list[str]  # differing, non-empty: replace (only with COPY_CONFLICT=replace)
    conflicts: list[tuple[TableState, TableState]]  # differing, non-empty, refused
    in_sync: list[str]
    missing_in_target: list[str]
    views: list[str] = field(default_factory=list)  # materialized views refreshed
    sequences: int = 0  # sequences set


def compare(source: dict[str, TableState], target: dict[str, TableState], order: list[str], replace: bool) -> CopyPlan:
    """Pure: what to do with each source table. A source state with ``checksum=None`` means "has
    rows, checksum not computed": enough when the target's table is empty or missing."""
    plan = CopyPlan([], [], [], [], [])
    for table in order:
        have, want = target.get(table), source[table]
        if want.rows == 0:
            # an empty source table has nothing to bring (seed files may fill it in the target)
            plan.in_sync.append(table)
        elif have is None:
            plan.missing_in_target.append(table)
        elif have.rows == 0:
            plan.copy.append(table)
        elif (have.rows, have.checksum) == (want.rows, want.checksum):
            plan.in_sync.append(table)
        elif replace:
            plan.replace.append(table)
        else:
            plan.conflicts.append((want, have))
    return plan


def dependency_order(tables: list[str], references: dict[str, set[str]]) -> list[str]:
    """Pure: ``tables`` with every table after those it references; tables on a foreign-key cycle
    come together, after whatever the cycle references (in name order)."""
    done: list[str] = []
    pending = sorted(tables)

    def reach(table: str) -> set[str]:
        seen, todo = set(), [table]
        while todo:
            for ref in references.get(todo.pop(), set()) & set(pending):
                if ref not in seen:
                    seen.add(ref)
                    todo.append(ref)
        return seen

    while pending:
        ready = [t for t in pending if not (references.get(t, set()) - {t}) & set(pending)]
        if not ready:  # a cycle: the first table whose references all lead back to it
            ready = [next(t for t in pending if all(t in reach(r) for r in reach(t)))]
        for table in ready:
            done.append(table)
            pending.remove(table)
    return done


def load_groups(tables: list[str], references: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """Pure: ``tables`` in dependency order, the tables of a foreign-key cycle as one group (they are
    loaded in one transaction, the keys between them added back after the rows)."""
    order = dependency_order(tables, references)
    members = set(tables)

    def reach(table: str) -> set[str]:
        seen, todo = set(), [table]
        while todo:
            for ref in references.get(todo.pop(), set()) & members:
                if ref not in seen:
                    seen.add(ref)
                    todo.append(ref)
        return seen

    groups, placed = [], set()
    for table in order:
        if table in placed:
            continue
        group = tuple(t for t in order if t == table or (t in reach(table) and table in reach(t)))
        placed.update(group)
        groups.append(group)
    return groups


class Catalog:
    """One side's relations, columns and checksum queries (catalog reads only, in its snapshot)."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn
        rows = conn.execute(relations.TABLES_SQL).fetchall()
        self.tables = [name for name, _, _ in rows]
        self.parent = {name: parent for name, _, parent in rows}
        by_oid = {oid: name for name, oid, _ in rows}
        self.references: dict[str, set[str]] = {}
        for child, parent in conn.execute(relations.FOREIGN_KEYS_SQL).fetchall():
            if child in by_oid and parent in by_oid:
                self.references.setdefault(by_oid[child], set()).add(by_oid[parent])
        self.views = conn.execute(relations.MATVIEWS_SQL).fetchall()
        self._states: dict[str, TableState] = {}
        self._lock = threading.Lock()

    def columns(self, table: str) -> list[str]:
        return list(self.column_types(table))

    def column_types(self, table: str) -> dict[str, str]:
        """The written columns, in table order, with their types as SQL spells them."""
        return dict(self.conn.execute(relations.COLUMNS_SQL, (table,)).fetchall())

    def has_rows(self, table: str) -> bool:
        query = sql.SQL("SELECT EXISTS (SELECT FROM ONLY {})").format(sql.SQL(table))
        return self.conn.execute(query).fetchone()[0]

    def state(self, table: str, conn: psycopg.Connection | None = None, fresh: bool = False) -> TableState:
        """Row count and checksum (computed once unless ``fresh``); ``conn`` another connection of
        the same side and snapshot (a worker's)."""
        with self._lock:
            if not fresh and table in self._states:
                return self._states[table]
        state = table_state(conn or self.conn, table)
        with self._lock:
            self._states[table] = state
        return state

    def remember(self, state: TableState) -> None:
        with self._lock:
            self._states[state.table] = state


def table_state(conn: psycopg.Connection, table: str) -> TableState:
    """Row count and checksum of one relation (table or materialized view) by its formatted name."""
    relation = sql.SQL("SELECT {}::text, {}::regclass::oid").format(sql.Literal(table), sql.Literal(table))
    query = conn.execute(queries_sql(relation.as_string(conn))).fetchone()[1]
    rows, digest = conn.execute(query).fetchone()[1:]
    return TableState(table, rows, digest)


@dataclass(frozen=True)
class Source:
    """The source side of the copy: its service and exported snapshot id."""
    service: str
    snapshot: str

    def connect(self) -> psycopg.Connection:
        conn = psycopg.connect(conninfo(self.service), autocommit=True)
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(self.snapshot)))
        conn.execute(PINNED_FORMAT)
        conn.execute(waits.OWN_STATEMENT_TIMEOUT)
        return conn

    def reader(self, out_query: str) -> subprocess.Popen:
        """A psql printing ``out_query``'s binary COPY stream, in the snapshot."""
        script = (f"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\nSET TRANSACTION SNAPSHOT '{self.snapshot}';\n"
                  f"{out_query};\nCOMMIT;\n")
        process = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo(self.service), "-f", "-"],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert process.stdin is not None
        process.stdin.write(script.encode())
        process.stdin.close()
        return process


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _stream(source: Source, dst: psycopg.Connection, table: str, columns: list[str], log: Callable[[str], None]) -> int:
    column_list = sql.SQL(", ").join(map(sql.Identifier, columns))
    out_query = sql.SQL("COPY (SELECT {} FROM ONLY {}) TO STDOUT (FORMAT binary)").format(column_list, sql.SQL(table))
    # a table without columns (rows of nothing) is written without a column list: "()" is no SQL
    into = sql.SQL("{} ({})").format(sql.SQL(table), column_list) if columns else sql.SQL(table)
    in_query = sql.SQL("COPY {} FROM STDIN (FORMAT binary)").format(into)
    copied = 0
    started = last = time.monotonic()
    reader = source.reader(out_query.as_string(dst))
    try:
        with dst.cursor().copy(in_query) as writer:
            while block := reader.stdout.read(BLOCK):
                writer.write(block)
                copied += len(block)
                if time.monotonic() - last >= PROGRESS_EVERY_S:
                    last = time.monotonic()
                    log(f"{table}: {copied / 1e6:,.0f} MB copied ({last - started:.0f}s)")
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
    return copied


# The target table's enabled user triggers, each as the statements that disable it for the load and
# enable it again in its own mode, inside the table's transaction: the rows arrive as they are in the
# source (a data load, as pg_restore --disable-triggers; ALTER TABLE is allowed to the table owner).
TRIGGERS_SQL = """
SELECT format('ALTER TABLE %%s DISABLE TRIGGER %%I', tg.tgrelid::regclass, tg.tgname),
       format('ALTER TABLE %%s ENABLE %%s TRIGGER %%I', tg.tgrelid::regclass,
              CASE tg.tgenabled WHEN 'A' THEN 'ALWAYS' WHEN 'R' THEN 'REPLICA' ELSE '' END, tg.tgname)
  FROM pg_trigger tg
 WHERE tg.tgrelid = %s::regclass AND NOT tg.tgisinternal AND tg.tgenabled <> 'D'
 ORDER BY tg.tgname
"""


class Worker:
    """One table at a time: its own target connection and a source connection in the snapshot."""

    def __init__(self, source: Source, target_service: str, catalogs: tuple[Catalog, Catalog]):
        self.source, self.src_catalog, self.dst_catalog = source, *catalogs
        self.src = source.connect()
        self.dst = psycopg.connect(conninfo(target_service), autocommit=True)
        self.dst.execute(PINNED_FORMAT)
        self.dst.execute(waits.OWN_STATEMENT_TIMEOUT)

    def close(self) -> None:
        for conn in (self.src, self.dst):
            conn.close()

    def copy(self, group: tuple[str, ...], replace: bool, log: Callable[[str], None]) -> None:
        """Copy ``group`` (one table, or the tables of a foreign-key cycle) in one transaction."""
        started = time.monotonic()
        want: dict[str, TableState] = {}
        # the source's checksums are read on the worker's own source connection while the rows stream
        summing = threading.Thread(target=lambda: want.update((t, self.src_catalog.state(t, self.src)) for t in group))
        sizes = {t: self.src.execute(SIZE_SQL, (t,)).fetchone()[0] for t in group}
        columns = {t: self.src_catalog.columns(t) for t in group}
        summing.start()
        got, copied = {}, {}
        try:
            waits.retrying(lambda: self._load(group, replace, sizes, columns, summing, want, got, copied, log),
                           f"copying {', '.join(group)}", lambda: waits.blocking_sessions(self.dst, group), log)
        finally:
            summing.join()
        for table in group:
            self.dst_catalog.remember(got[table])
            log(f"{table}: {'replaced' if replace else 'copied'} {got[table].rows:,} rows ({copied[table] / 1e6:,.1f} MB) "
                f"in {time.monotonic() - started:.1f}s, verified")

    def _load(self, group: tuple[str, ...], replace: bool, sizes: dict, columns: dict, summing: threading.Thread, want: dict,
              got: dict, copied: dict, log: Callable[[str], None]) -> None:
        """One try of the group's transaction: every lock wait in it bounded (:mod:`tasks.core.waits`), the
        COPY free of a role's statement_timeout."""
        with self.dst.transaction():
            self.dst.execute(waits.SET_LOCK_TIMEOUT)
            self.dst.execute(waits.NO_STATEMENT_TIMEOUT)
            deferred: list[tuple[str, str, int]] = []
            readded: list[tuple[str, str, int]] = []  # dropped already (keys resting on a replaced table)
            for table in group:
                if replace:
                    for drop, create, order in self.dst.execute(REFERENCING_SQL, {"table": table, "group": list(group)}).fetchall():
                        self.dst.execute(drop)
                        readded.append((drop, create, order))
                    self.dst.execute(sql.SQL("DELETE FROM ONLY {}").format(sql.SQL(table)))
                if sizes[table] >= BULK_FROM_BYTES:
                    deferred += self.dst.execute(DEFERRED_SQL, {"table": table}).fetchall()
                if len(group) > 1:
                    deferred += [row for row in self.dst.execute(CYCLE_SQL, {"table": table, "group": list(group)})
                                 if row not in deferred]
            for drop, _, _ in deferred:
                self.dst.execute(drop)
            triggers = [row for table in group for row in self.dst.execute(TRIGGERS_SQL, (table,)).fetchall()]
            for disable, _ in triggers:
                self.dst.execute(disable)
            for table in group:
                copied[table] = _stream(self.source, self.dst, table, columns[table], log)
            for _, enable in triggers:
                self.dst.execute(enable)
            for _, create, _ in sorted(deferred + readded, key=lambda row: row[2]):
                self.dst.execute(create)
            summing.join()
            for table in group:
                got[table] = table_state(self.dst, table)
                if table not in want:
                    raise CopyError(f"table {table}: the source's checksum could not be read: rolled back; run again")
                if (got[table].rows, got[table].checksum) != (want[table].rows, want[table].checksum):
                    raise CopyError(f"table {table}: after the copy the target has {got[table].rows:,} rows with "
                                    f"another checksum than the source's {want[table].rows:,}: rolled back; run again")


# SQLSTATE classes of a fault that a rerun may get past: connection, insufficient resources (disk
# full, out of memory, too many connections), operator intervention (shutdown), system (I/O), and a
# serialization failure or deadlock.
TRANSIENT_CLASSES = ("08", "40", "53", "57", "58")


def transient(exc: BaseException) -> bool:
    """Pure: whether ``exc`` is about the server or the link (a rerun may work), not about the rows
    or the schema (a rerun fails the same way). A lost connection has no SQLSTATE."""
    if isinstance(exc, psycopg.Error):
        code = getattr(exc, "sqlstate", None)
        return code is None or code[:2] in TRANSIENT_CLASSES
    return isinstance(exc, OSError)


def _fault(table: str, exc: BaseException) -> CopyError:
    if isinstance(exc, CopyError):
        return exc
    if isinstance(exc, ActionableError):  # a lock held through every try: it names the session
        return CopyError(f"table {table}: {exc}")
    if waits.is_statement_timeout(exc):
        return CopyError(f"table {table}: {waits.STATEMENT_TIMEOUT_CAUSE}: the table was rolled back; run again")
    if transient(exc):
        return CopyError(f"table {table}: the copy stopped ({_first_line(exc)}): the table was rolled back; "
                         "check the target (running, disk space) and run again")
    return CopyError(f"table {table}: the target refused the source's rows ({_first_line(exc)}): the table was "
                     "rolled back; a rerun fails the same way: make the target's schema accept them (the constraint, "
                     "trigger or type named here) in a migration, then run again")


def _load(source: Source, target_service: str, catalogs: tuple[Catalog, Catalog], work: list[tuple[str, bool]],
          jobs: int, log: Callable[[str], None]) -> None:
    """Copy ``work`` ((table, replace) pairs) with ``jobs`` workers, each table after the ones it
    references (a foreign-key cycle as one group); the first failure stops the others from starting
    and is raised."""
    references = catalogs[0].references
    replace = dict(work)
    pending = load_groups([t for t, _ in work], references)
    running: set[str] = set()
    failures: list[CopyError] = []
    condition = threading.Condition()

    def waits_for(group: tuple[str, ...]) -> set[str]:
        refs = set().union(*(references.get(t, set()) for t in group)) - set(group)
        return refs & (running | {t for g in pending for t in g})

    def next_group() -> tuple[str, ...] | None:
        with condition:
            while True:
                if failures or not pending:
                    return None
                for group in pending:
                    if not waits_for(group):
                        pending.remove(group)
                        running.update(group)
                        return group
                condition.wait()

    def work_loop() -> None:
        worker = None
        try:
            while (group := next_group()) is not None:
                try:
                    worker = worker or Worker(source, target_service, catalogs)
                    worker.copy(group, any(replace[t] for t in group), log)
                except Exception as exc:  # noqa: BLE001  (every fault becomes one line naming the table)
                    with condition:
                        failures.append(_fault(", ".join(group), exc))
                finally:
                    with condition:
                        running.difference_update(group)
                        condition.notify_all()
        finally:
            if worker:
                worker.close()

    threads = [threading.Thread(target=work_loop) for _ in range(max(1, min(jobs, len(work))))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def _refresh_views(catalogs: tuple[Catalog, Catalog], dst: psycopg.Connection, tables_written: bool,
                   log: Callable[[str], None]) -> list[str]:
    """Refresh the target's materialized views that are populated in the source: all of them after
    tables were written, else those unpopulated or of another row count (their rows are derived)."""
    src, tgt = catalogs
    populated_there = dict(tgt.views)
    refreshed = []
    for view, populated in src.views:
        if not populated or view not in populated_there:
            continue
        if not tables_written and populated_there[view] and tgt.state(view, fresh=True).rows == src.state(view).rows:
            continue
        dst.execute(sql.SQL("REFRESH MATERIALIZED VIEW {}").format(sql.SQL(view)))
        tgt.state(view, fresh=True)
        log(f"{view}: materialized view refreshed")
        refreshed.append(view)
    return refreshed


def _set_sequences(src: psycopg.Connection, dst: psycopg.Connection) -> int:
    """Each sequence at the source's state, ascending or descending: its last value, called; or, never
    called in the source, back at its start, not called."""
    count = 0
    current = {name: (value, start) for name, value, start in dst.execute(relations.SEQUENCES_SQL).fetchall()}
    for name, value, _ in src.execute(relations.SEQUENCES_SQL).fetchall():
        if name not in current or current[name][0] == value:
            continue
        called, to = (True, value) if value is not None else (False, current[name][1])
        dst.execute(sql.SQL("SELECT setval({}, %s, %s)").format(sql.Literal(name)), (to, called))
        count += 1
    return count


def _refusals(src: psycopg.Connection, source: Catalog, target: Catalog) -> list[str]:
    large_objects = large_objects_refusal(*src.execute(relations.LARGE_OBJECTS_SQL).fetchone())
    problems = [large_objects] if large_objects else []
    present = set(target.tables)
    for table in source.tables:
        if table in present and source.has_rows(table):
            theirs, ours = source.column_types(table), target.column_types(table)
            problems += column_problems(table, list(theirs), list(ours))
            problems += [type_refusal(table, column, kind, ours[column])
                         for column, kind in theirs.items() if column in ours and ours[column] != kind]
    return problems


def copy_data(source_service: str, target_service: str, replace: bool, log: Callable[[str], None],
              before_replace: Callable[[], None] | None = None, jobs: int = 1) -> CopyPlan:
    """Bring the target's rows to the source's; return what was done. ``before_replace`` runs first
    when a table will be replaced (the target backup)."""
    try:
        return _copy_data(source_service, target_service, replace, log, before_replace, jobs)
    except psycopg.Error as exc:
        hint = "check both databases (running, disk space) and run again" if transient(exc) else \
            "a rerun fails the same way: fix the cause named here first"
        if waits.is_statement_timeout(exc):
            hint = waits.STATEMENT_TIMEOUT_CAUSE
        raise CopyError(f"the copy stopped ({_first_line(exc)}): every table not reported verified was rolled "
                        f"back; {hint}") from exc


def _copy_data(source_service, target_service, replace, log, before_replace, jobs) -> CopyPlan:
    with psycopg.connect(conninfo(source_service), autocommit=True) as src, psycopg.connect(conninfo(target_service), autocommit=True) as dst:
        acquire_lock(dst, LOCK_WAIT_S, log)  # one copy at a time; the plan is made under the lock
        src.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        source = Source(source_service, src.execute("SELECT pg_export_snapshot()").fetchone()[0])
        for conn in (src, dst):
            conn.execute(PINNED_FORMAT)
            conn.execute(waits.OWN_STATEMENT_TIMEOUT)  # the tool's long reads: not a role's statement_timeout
        catalogs = Catalog(src), Catalog(dst)
        problems = _refusals(src, *catalogs)
        if problems:
            raise CopyError(problems[0] + (f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""))
        order = dependency_order(catalogs[0].tables, catalogs[0].references)
        present = set(catalogs[1].tables)
        target = {t: catalogs[1].state(t) for t in order if t in present}
        wanted = {t: (catalogs[0].state(t) if target.get(t) and target[t].rows
                      else TableState(t, int(catalogs[0].has_rows(t)), None)) for t in order}
        plan = compare(wanted, target, order, replace)
        if plan.missing_in_target:
            raise CopyError(missing_refusal(plan.missing_in_target[0]))
        if plan.conflicts:
            want, have = plan.conflicts[0]
            raise CopyError(conflict_refusal(want.table, have.rows, want.rows))
        if plan.replace and before_replace:
            before_replace()
        work = [(t, False) for t in plan.copy] + [(t, True) for t in plan.replace]
        if jobs > 1 and len(work) > 1:
            free = dst.execute(relations.FREE_CONNECTIONS_SQL).fetchone()[0]
            if capped_jobs(jobs, free) < jobs:
                log(f"COPY_JOBS={jobs} lowered to {capped_jobs(jobs, free)}: the target has {free} free connection(s) "
                    f"and {CONNECTION_RESERVE} are left for others")
                jobs = capped_jobs(jobs, free)
        _load(source, target_service, catalogs, work, jobs, log)
        # A replaced table's ON DELETE CASCADE may have emptied tables that were in sync: refill them.
        if plan.replace:
            again = [(t, True) for t in plan.in_sync if wanted[t].rows and catalogs[1].state(t, fresh=True) != catalogs[0].state(t)]
            _load(source, target_service, catalogs, again, jobs, log)
            plan.replace += [t for t, _ in again]  # the summary counts every table reloaded
        plan.views = _refresh_views(catalogs, dst, bool(work), log)
        plan.sequences = _set_sequences(src, dst)
        if plan.sequences:
            log(f"sequences: {plan.sequences} set to the source's values")
        problems = check.check(src, dst, lambda name: _pair(catalogs[0].state(name)),
                               lambda name: _pair(catalogs[1].state(name)))
        if problems:
            raise CopyError(f"the target is incomplete after the copy: {problems[0]}"
                            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
                            + ": this relation is not handled by the copy; report it, and move it by hand meanwhile")
        return plan


def _pair(state: TableState) -> tuple[int, str]:
    return state.rows, state.checksum
