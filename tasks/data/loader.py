"""
The copy's loader: ``jobs`` workers, each with its own target connection and a source connection in
the exported snapshot, each filling one table (or the tables of a foreign-key cycle) per transaction,
verified before COMMIT; then the loaded tables analysed, in parallel too.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from tasks.core import waits
from tasks.core.connections import conninfo
from tasks.core.environment import child_env
from tasks.core.errors import ActionableError
from tasks.core.progress import Throughput
from tasks.data import cascades, keys
from tasks.data.checksum import PINNED_FORMAT
from tasks.data.tables import Catalog, CopyError, TableState, table_state

BLOCK = 1 << 20
EVERY_ROW = sql.SQL("true")
SIZE_SQL = "SELECT pg_total_relation_size(%s::regclass)"  # heap, TOAST and indexes (the 8 MB rule)
ANALYZE_LOCK_TIMEOUT = "10s"  # statistics wait for no application's lock for long


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
        script = (
            f"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\nSET TRANSACTION SNAPSHOT '{self.snapshot}';\n"
            f"{out_query};\nCOMMIT;\n"
        )
        process = subprocess.Popen(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo(self.service), "-f", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env(),
        )
        assert process.stdin is not None
        process.stdin.write(script.encode())
        process.stdin.close()
        return process


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def cause(exc: BaseException) -> str:
    """Pure: an error's first line, with PostgreSQL's detail when it gives one (``Key (id)=(5) ...``)."""
    detail = getattr(getattr(exc, "diag", None), "message_detail", None)
    return f"{first_line(exc)}: {detail}" if detail else first_line(exc)


def stream(
    source: Source,
    dst: psycopg.Connection,
    table: str,
    columns: list[str],
    log: Callable[[str], None],
    where: sql.Composable = EVERY_ROW,
    moved: Callable[[int], None] | None = None,
) -> int:
    """The source's rows of ``table`` (those ``where`` selects, of the table aliased ``t``) into the
    target's, as binary COPY: the rows written. ``moved`` is told the bytes as they go."""
    column_list = sql.SQL(", ").join(map(sql.Identifier, columns))
    out_query = sql.SQL("COPY (SELECT {} FROM ONLY {} t WHERE {}) TO STDOUT (FORMAT binary)").format(
        sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in columns), sql.SQL(table), where
    )
    # a table without columns (rows of nothing) is written without a column list: "()" is no SQL
    into = sql.SQL("{} ({})").format(sql.SQL(table), column_list) if columns else sql.SQL(table)
    in_query = sql.SQL("COPY {} FROM STDIN (FORMAT binary)").format(into)
    reader = source.reader(out_query.as_string(dst))
    assert reader.stdout is not None and reader.stderr is not None
    cursor = dst.cursor()
    try:
        with cursor.copy(in_query) as writer:
            while block := reader.stdout.read(BLOCK):
                writer.write(block)
                if moved:
                    moved(len(block))
            if reader.wait() != 0:
                error = reader.stderr.read().decode(errors="replace").strip().splitlines()
                raise CopyError(
                    f"table {table}: reading the source failed ({error[0] if error else 'psql failed'}): "
                    "rolled back; run again"
                )
    finally:
        if reader.poll() is None:
            reader.kill()
        reader.wait()
        reader.stdout.close()
        reader.stderr.close()
    return cursor.rowcount


class Worker:
    """One table at a time: its own target connection and a source connection in the snapshot."""

    def __init__(
        self,
        source: Source,
        target_service: str,
        catalogs: tuple[Catalog, Catalog],
        planned: list[cascades.Cascade] | None = None,
        progress: Throughput | None = None,
    ):
        self.source, self.src_catalog, self.dst_catalog = source, *catalogs
        self.progress = progress
        self.planned = planned or []  # the cascades the plan counted: a replace checks them again under lock
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
        sizes = {t: self.src.execute(SIZE_SQL, (t,)).fetchone()[0] for t in group}  # type: ignore[index]
        columns = {t: self.src_catalog.columns(t) for t in group}
        summing.start()
        got: dict[str, TableState] = {}
        copied: dict[str, int] = {}
        try:
            waits.retrying(
                lambda: self.load(group, replace, sizes, columns, summing, want, got, copied, log),
                f"copying {', '.join(group)}",
                lambda: waits.blocking_sessions(self.dst, group),
                log,
            )
        finally:
            summing.join()
        for table in group:
            self.dst_catalog.remember(got[table])
            log(
                f"{table}: {'replaced' if replace else 'copied'} {got[table].rows:,} rows "
                f"({copied[table] / 1e6:,.1f} MB) in {time.monotonic() - started:.1f}s, verified"
            )

    def load(
        self,
        group: tuple[str, ...],
        replace: bool,
        sizes: dict,
        columns: dict,
        summing: threading.Thread,
        want: dict,
        got: dict,
        copied: dict,
        log: Callable[[str], None],
    ) -> None:
        """One try of the group's transaction: every lock wait in it bounded (:mod:`tasks.core.waits`), the
        COPY free of a role's statement_timeout."""
        with self.dst.transaction():
            self.dst.execute(waits.SET_LOCK_TIMEOUT)
            self.dst.execute(waits.NO_STATEMENT_TIMEOUT)
            reached = self.recheck(group) if replace else set()
            aside = keys.set_aside(self.dst, group, replace, sizes, reached)
            if replace:
                for table in group:
                    self.dst.execute(sql.SQL("DELETE FROM ONLY {}").format(sql.SQL(table)))
            for table in group:
                self.forget(copied, table)
                stream(self.source, self.dst, table, columns[table], log, moved=self.counter(copied, table))
            keys.put_back(self.dst, aside)
            summing.join()
            for table in group:
                got[table] = table_state(self.dst, table)
                if table not in want:
                    raise CopyError(f"table {table}: the source's checksum could not be read: rolled back; run again")
                if (got[table].rows, got[table].checksum) != (want[table].rows, want[table].checksum):
                    raise CopyError(
                        f"table {table}: after the copy the target has {got[table].rows:,} rows with "
                        f"another checksum than the source's {want[table].rows:,}: rolled back; "
                        "run again"
                    )

    def forget(self, copied: dict[str, int], key: str) -> None:
        """A new try of ``key``: the bytes of the one rolled back are taken back from the progress."""
        if self.progress and copied.get(key):
            self.progress.moved(-copied[key])
        copied[key] = 0

    def counter(self, copied: dict[str, int], key: str) -> Callable[[int], None]:
        """What counts the bytes of ``key`` into ``copied`` and the run's progress."""

        def moved(count: int) -> None:
            copied[key] += count
            if self.progress:
                self.progress.moved(count)

        return moved

    def recheck(self, group: tuple[str, ...]) -> set[str]:
        """A replace's check under lock, in its transaction, before anything is deleted: the replaced
        tables and all their DELETE reaches locked, the cascade counted again; a child the cascade would
        act on must be reloaded in this same transaction and hold what the plan saw. Return the tables
        reached (their user triggers stay off for the load too)."""
        children = {c.child for c in self.planned if c.child in group}
        roots = [t for t in group if t not in children]
        found, rules = cascades.locked_recount(self.dst, roots)
        problem = cascades.rules_refusal(rules, roots) or cascades.recount_refusal(
            roots, found, [c for c in self.planned if c.child in group], set(group)
        )
        if problem:
            raise CopyError(problem)
        for child in sorted(children):
            now, planned = table_state(self.dst, child), self.dst_catalog.state(child)
            if (now.rows, now.checksum) != (planned.rows, planned.checksum):
                raise CopyError(
                    f"COPY_CONFLICT=replace of {', '.join(roots)} reaches {child}, which changed since "
                    f"the plan ({now.rows:,} rows now, {planned.rows:,} then: the application wrote to "
                    "it): rolled back, nothing of it was changed; run again to see the plan with those "
                    "rows"
                )
        return cascades.reached(roots, found)


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


def rows_refused(exc: BaseException) -> bool:
    """Pure: whether ``exc`` is the target refusing the source's rows (a constraint, a partition bound, a
    type, a privilege): a rerun fails the same way, the other tables need not stop."""
    return (
        isinstance(exc, psycopg.Error)
        and not isinstance(exc, ActionableError)
        and not transient(exc)
        and not waits.is_statement_timeout(exc)
    )


def fault(table: str, exc: BaseException, undone: str = "the table was rolled back") -> CopyError:
    """Pure: the one line for a table's failed load (``undone``: what of it was rolled back)."""
    if isinstance(exc, CopyError):
        return exc
    if isinstance(exc, ActionableError):  # a lock held through every try: it names the session
        return CopyError(f"table {table}: {exc}")
    if waits.is_statement_timeout(exc):
        return CopyError(f"table {table}: {waits.STATEMENT_TIMEOUT_CAUSE}: the table was rolled back; run again")
    if transient(exc):
        return CopyError(
            f"table {table}: the copy stopped ({first_line(exc)}): the table was rolled back; "
            "check the target (running, disk space) and run again"
        )
    return CopyError(
        f"table {table}: the target refused the source's rows ({first_line(exc)}): {undone}; a rerun fails the "
        "same way: make the target's schema accept them (the constraint, trigger or type named here) in a "
        "migration, then run again"
    )


def parallel(count: int, loop: Callable[[], None]) -> None:
    threads = [threading.Thread(target=loop) for _ in range(max(1, count))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def together(groups: list[tuple[str, ...]], cascaded: list[cascades.Cascade]) -> list[tuple[str, ...]]:
    """Pure: ``groups`` with each replaced table's group merged with its cascade children's (in load
    order, at the place of the first), so that the DELETE and every reload it calls for are one
    transaction: the application never sees a child emptied, a kill leaves them all as they were."""
    merged = [list(g) for g in groups]
    for cascade in cascaded:
        into = next((g for g in merged if cascade.parent in g), None)
        other = next((g for g in merged if cascade.child in g), None)
        if into is None or other is None or into is other:
            continue
        first, second = (into, other) if merged.index(into) < merged.index(other) else (other, into)
        first += second
        merged.remove(second)
    return [tuple(g) for g in merged]


def analyze(target_service: str, tables: list[str], jobs: int, log: Callable[[str], None]) -> list[str]:
    """ANALYZE ``tables`` with ``jobs`` connections at once, so the planner and the health check see
    the rows just loaded; return those analysed. Statistics are not data: one that cannot be taken
    (a lock held past its timeout) is said, and the run goes on (autovacuum takes it later)."""
    todo, done = list(tables), []
    lock = threading.Lock()

    def loop() -> None:
        try:
            conn = psycopg.connect(conninfo(target_service), autocommit=True)
        except psycopg.Error as exc:
            log(f"statistics: no connection to analyse with ({first_line(exc)}); autovacuum will")
            return
        with conn:
            conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(ANALYZE_LOCK_TIMEOUT)))
            conn.execute(waits.OWN_STATEMENT_TIMEOUT)  # a big table's ANALYZE: not a role's statement_timeout
            while True:
                with lock:
                    if not todo:
                        return
                    table = todo.pop(0)
                try:
                    conn.execute(sql.SQL("ANALYZE {}").format(sql.SQL(table)))
                except psycopg.Error as exc:
                    log(f"{table}: statistics not updated ({first_line(exc)}); autovacuum will")
                    continue
                with lock:
                    done.append(table)

    if todo:
        started = time.monotonic()
        parallel(min(jobs, len(todo)), loop)
        log(f"statistics: {len(done)} table(s) analysed in {time.monotonic() - started:.1f}s")
    return done
