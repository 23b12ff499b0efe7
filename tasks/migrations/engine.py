"""
The migration engine: apply pending files exactly once, in one database session.

* One psycopg connection for the whole run (libpq ``service=...``: no secret in any argv).
* A session advisory lock, polled with ``pg_try_advisory_lock`` in short autocommit
  statements (no open snapshot, so a concurrent CREATE INDEX CONCURRENTLY is never held up by
  a waiting deploy), with a bounded wait; the history is read again under the lock.
* One transaction per file, its ``schema_migrations`` row included, with ``SET LOCAL
  lock_timeout`` / ``statement_timeout`` set again before every statement (a file's ``SET`` or
  ``RESET ALL`` cannot lift them): a failed or killed file leaves nothing behind. The whole file
  goes as one message (one round trip); a failure still names its statement's line.
* Every file starts from the same session state: after each one the session is reset
  (:data:`RESET_SESSION`), in the proof and on the target alike.
* A no-transaction file runs statement by statement after INVALID indexes it builds (left by a
  killed CREATE INDEX CONCURRENTLY) are dropped, so re-running it after a crash works.
"""

from __future__ import annotations

import getpass
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any

import psycopg
from psycopg import generators, sql

from tasks.core import interrupt, progress
from tasks.core.lock import LOCK_KEY, LockTimeout, acquire_lock, lock_held
from tasks.core.pinned import PINNED_OPTIONS
from tasks.core.rows import scalar
from tasks.migrations import observed, retry
from tasks.migrations.failures import MigrationError, ends_session, failure, lock_lost
from tasks.migrations.files import Migration
from tasks.migrations.history import EXISTS_SQL, HISTORY_SQL, ROWS_SQL, history_from_rows
from tasks.migrations.plan import MigrationPlan, TargetHistory, plan_migrations

TRACKING_DDL = """
CREATE TABLE IF NOT EXISTS public.schema_migrations (
    version      bigint      PRIMARY KEY,
    name         text        NOT NULL,
    checksum     text        NOT NULL,
    kind         text        NOT NULL DEFAULT 'applied' CHECK (kind IN ('applied', 'baseline')),
    applied_at   timestamptz NOT NULL DEFAULT now(),
    execution_ms integer     NOT NULL DEFAULT 0,
    applied_by   text        NOT NULL DEFAULT current_user
)
"""

INVALID_INDEX_SQL = """
SELECT n.nspname, c.relname FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT i.indisvalid AND c.relname = ANY(%s)
"""


# After every file: the session as it was before it (settings incl. search_path, role, temporary
# tables, prepared statements, cursors, listeners), so what one file SETs never leaks into the next.
# (Not DISCARD ALL: it would let go of the deploy's advisory lock and cannot run in a transaction.)
RESET_SESSION = ("RESET ALL; RESET ROLE; RESET SESSION AUTHORIZATION; DISCARD TEMP; DISCARD SEQUENCES; "
                 "DEALLOCATE ALL; CLOSE ALL; UNLISTEN *")


@dataclass(frozen=True)
class Limits:
    lock_wait_s: float = 60.0
    lock_timeout: str = "5s"
    statement_timeout: str = "0"
    lock_retry_s: float = 0.0  # a file whose lock was not granted is retried for this long (tasks.migrations.retry)


def read_history(conn: psycopg.Connection) -> TargetHistory:
    exists = scalar(conn.execute(EXISTS_SQL))
    rows = conn.execute(HISTORY_SQL).fetchall()
    if exists:
        rows += conn.execute(ROWS_SQL).fetchall()
    return history_from_rows(rows, exists)


def applied_by() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in a container (KeyError, OSError, ...)
        user = "unknown"
    return f"{user}@{socket.gethostname()} (pgconverge)"


def _ensure_lock(conn: psycopg.Connection, migration: Migration) -> None:
    """Stop before a file's changes are kept if a statement let go of the deploy's lock."""
    if not lock_held(conn):
        raise lock_lost(migration)


# Before a file's COMMIT, in the same message: fails (SQLSTATE LOCK_LOST) unless this session still
# holds the deploy's lock, so the COMMIT after it never runs without it.
LOCK_LOST = "PGCLL"
LOCK_CHECK_SQL = (
    "DO $pgconverge$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_locks WHERE locktype = 'advisory' "
    "AND pid = pg_catalog.pg_backend_pid() AND granted "
    f"AND classid = {LOCK_KEY >> 32} AND objid = {LOCK_KEY & 0xFFFFFFFF} "
    f"AND objsubid = 1) THEN RAISE EXCEPTION 'the deploy lock was let go' USING ERRCODE = '{LOCK_LOST}'; END IF; "
    "END$pgconverge$"
)


def _limits_sql(limits: Limits, local: bool) -> sql.Composed:
    scope = sql.SQL("SET LOCAL" if local else "SET")
    return sql.SQL("{0} lock_timeout = {1}; {0} statement_timeout = {2}").format(
        scope, sql.Literal(limits.lock_timeout), sql.Literal(limits.statement_timeout)
    )


def _record_sql(migration: Migration, kind: str, started: float | None, by: str) -> sql.Composed:
    """The tracking row; ``started`` None: its time is the server's since the transaction began."""
    elapsed = (sql.SQL("(extract(epoch FROM clock_timestamp() - now()) * 1000)::int") if started is None
               else sql.Literal(int((time.monotonic() - started) * 1000)))
    return sql.SQL(
        "INSERT INTO public.schema_migrations (version, name, checksum, kind, execution_ms, applied_by) "
        "VALUES ({}, {}, {}, {}, {}, {})"
    ).format(*map(sql.Literal, (migration.version, migration.name, migration.checksum, kind)), elapsed, sql.Literal(by))


def _simple(conn: psycopg.Connection, query: sql.Composable) -> None:
    """Send one or more statements in a single round trip (simple query protocol)."""
    conn.execute(query.as_bytes(conn))


def run_statements(conn: psycopg.Connection, migration: Migration, limits: Limits, observer: Any = None) -> None:
    """
    A no-transaction file's statements one by one, each in its own round trip (a message of several
    would open a transaction block), the limits set again before every statement after the first,
    so whatever a statement does to them (``SET``, ``RESET ALL``, ``set_config()``, a function)
    holds for itself only; after each, the check that the deploy's lock is still held.
    """
    prefix = _limits_sql(limits, local=False).as_bytes(conn)
    for index, statement in enumerate(migration.statements):
        try:
            if index:
                conn.execute(prefix)
            conn.execute(statement.text.encode())
            if observer is not None:  # the proof: which tables it rewrote (its locks ended with it)
                observer.rewrites(conn, migration, statement)
            _ensure_lock(conn, migration)
        except psycopg.Error as exc:
            raise failure(migration, exc, statement.offset) from None


LIMIT_STATEMENTS = 2  # what _limits_sql sends before each statement: SET LOCAL lock_timeout, statement_timeout


def _results(conn: psycopg.Connection, message: str) -> list:
    """Every result of a message of several statements, in order, up to the first error (the
    server skips the rest): which statement failed is the count of those before it."""
    conn.pgconn.send_query(message.encode())
    return conn.wait(generators.execute(conn.pgconn))


def apply_in_transaction(conn: psycopg.Connection, migration: Migration, limits: Limits, by: str,
                         history: str = "") -> str:
    """
    One round trip a file (psql's ``BEGIN; \\i file; COMMIT`` takes n + 2): BEGIN, each statement
    with the limits set again before it, the lock check, the session reset, the tracking row (its
    time the server's) and COMMIT, as one message. The server runs them in turn and stops at the
    first error; the results before it say which statement that was, so the error names its line.
    ``history``: the history's digest before the file (:mod:`tasks.migrations.observed`), checked before
    the tracking row; the digest after the row is returned, read in the same message.
    """
    prefix = _limits_sql(limits, local=True).as_string(conn) + "; "
    message, starts = ["BEGIN; "], []
    length = len(message[0])
    for statement in migration.statements:
        starts.append(length + len(prefix))
        message.append(prefix + statement.text + "\n;\n")  # a line break: a statement may end in a -- comment
        length += len(message[-1])
    message.append(LOCK_CHECK_SQL + "; " + RESET_SESSION + "; " + observed.check_sql(history) + "; "
                   + _record_sql(migration, "applied", None, by).as_string(conn) + "; "
                   + observed.DIGEST_SQL + "; COMMIT")
    try:
        with interrupt.working(conn):  # Ctrl-C cancels the file: the server would finish and commit it
            results = _results(conn, "".join(message))
        fatal = psycopg.pq.ExecStatus.FATAL_ERROR
        failed = next((i for i, result in enumerate(results) if result.status == fatal), None)
        if failed is not None:
            exc = psycopg.errors.error_from_result(results[failed], encoding=conn.info.encoding)
            index: int | None = (failed - 1) // (LIMIT_STATEMENTS + 1)  # after BEGIN: each statement, its limits
            if exc.sqlstate == LOCK_LOST:
                raise lock_lost(migration)
            if exc.sqlstate == observed.HISTORY_CHANGED:
                raise MigrationError(observed.changed_message(migration.filename, kept=False))
            if index is None or not 0 <= index < len(migration.statements):  # the whole message refused (syntax)
                index = statement_at(starts, exc.diag.statement_position)
            if index is not None:
                raise failure(migration, exc, migration.statements[index].offset, starts[index])
            raise failure(migration, exc)
        return str(results[-2].get_value(0, 0).decode())  # the digest, read before COMMIT
    except psycopg.Error as exc:
        raise failure(migration, exc) from None
    finally:
        if not conn.closed and not conn.broken and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.execute("ROLLBACK")


def statement_at(starts: list[int], position: str | None) -> int | None:
    """Pure: which statement of a file's message holds the server's 1-based ``position`` in the message
    (``starts``: where each statement begins in it); None without a position or before the first one."""
    if not position or not starts or int(position) - 1 < starts[0]:
        return None
    return max(i for i, start in enumerate(starts) if start <= int(position) - 1)


def apply_observed(conn: psycopg.Connection, migration: Migration, limits: Limits, by: str, observer,
                   history: str = "") -> str:
    """
    The proof's way (:mod:`tasks.risk.observe`): the same transaction as :func:`apply_in_transaction`,
    but a round trip per statement, so ``observer.after`` reads what the statement holds and rewrote.
    The history's digest is checked before the tracking row, as there; the digest after it is returned.
    """
    prefix = _limits_sql(limits, local=True).as_string(conn) + "; "
    index = -1
    try:
        conn.execute("BEGIN")
        observer.start(conn, migration)
        for index, statement in enumerate(migration.statements):  # a statement and what it holds: one round trip
            results = _results(conn, prefix + statement.text + "\n;\n" + observer.held_sql())
            failed = next((r for r in results if r.status == psycopg.pq.ExecStatus.FATAL_ERROR), None)
            if failed is not None:
                raise psycopg.errors.error_from_result(failed, encoding=conn.info.encoding)
            last = results[-1]
            observer.record(migration, statement, [[last.get_value(i, j) for j in range(last.nfields)]
                                                   for i in range(last.ntuples)])
        index = -1
        results = _results(conn, LOCK_CHECK_SQL + "; " + RESET_SESSION + "; " + observed.check_sql(history) + "; "
                           + _record_sql(migration, "applied", None, by).as_string(conn) + "; "
                           + observed.DIGEST_SQL + "; COMMIT")
        failed = next((r for r in results if r.status == psycopg.pq.ExecStatus.FATAL_ERROR), None)
        if failed is not None:
            raise psycopg.errors.error_from_result(failed, encoding=conn.info.encoding)
        return str(results[-2].get_value(0, 0).decode())  # the digest, read before COMMIT
    except psycopg.Error as exc:
        if exc.sqlstate == LOCK_LOST:
            raise lock_lost(migration) from None
        if exc.sqlstate == observed.HISTORY_CHANGED:
            raise MigrationError(observed.changed_message(migration.filename, kept=False)) from None
        offset, base = (migration.statements[index].offset, len(prefix)) if index >= 0 else (None, 0)
        raise failure(migration, exc, offset, base) from None
    finally:
        if not conn.closed and not conn.broken and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.execute("ROLLBACK")


def apply_capped(conn: psycopg.Connection, migration: Migration, limits: Limits, by: str, history: str,
                 lock_timeout: str) -> str:
    """:func:`apply_in_transaction` with this try's lock_timeout (a retry's is capped by the time left)."""
    return apply_in_transaction(conn, migration, replace(limits, lock_timeout=lock_timeout), by, history)


def drop_invalid_indexes(conn: psycopg.Connection, migration: Migration, on_event: Callable[[str], None]) -> None:
    names = list(migration.concurrent_indexes)
    if not names:
        return
    for schema, index in conn.execute(INVALID_INDEX_SQL, (names,)).fetchall():
        on_event(f"{migration.filename}: dropping INVALID index {index} left by an interrupted build")
        conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(schema, index)))


def apply_without_transaction(conn: psycopg.Connection, migration: Migration, limits: Limits, by: str,
                              on_event: Callable[[str], None], history: str = "", observer: Any = None) -> str:
    started = time.monotonic()
    drop_invalid_indexes(conn, migration, on_event)
    if observer is not None:
        observer.start(conn, migration)
    _simple(conn, _limits_sql(limits, local=False))
    try:
        run_statements(conn, migration, limits, observer)
        _simple(conn, sql.SQL(RESET_SESSION))
        if observed.digest(conn) != history:
            raise MigrationError(observed.changed_message(migration.filename, kept=True))
        _simple(conn, _record_sql(migration, "applied", started, by))
        return observed.digest(conn)
    finally:
        if not conn.closed and not conn.broken:
            conn.execute(RESET_SESSION)


def record_baseline(conn: psycopg.Connection, migrations: list[Migration]) -> None:
    by = applied_by()
    with conn.transaction():
        for migration in migrations:
            _simple(conn, _record_sql(migration, "baseline", time.monotonic(), by))


def user_search_path(user: str) -> str:
    """The pinned search_path with ``"$user"`` spelt out as ``user``, as a libpq ``options`` value."""
    value = sql.Identifier(user).as_string(None) + ",public"
    return "-c search_path=" + value.replace("\\", "\\\\").replace(" ", "\\ ")


def connect(conninfo: str, search_path_of: str | None = None) -> psycopg.Connection:
    """A session with the pinned settings; ``search_path_of``: "$user" in the search path is that user (the
    target's, in the proof), so unqualified names resolve as they do on the target."""
    options = PINNED_OPTIONS + (" " + user_search_path(search_path_of) if search_path_of else "")
    try:
        # no server-side prepared statements: every file ends with DEALLOCATE ALL (the session reset)
        return psycopg.connect(conninfo, autocommit=True, options=options, prepare_threshold=None)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else "connection failed"
        raise MigrationError(f"cannot connect: {first}") from None


def apply_migrations(
    conninfo: str,
    files: list[Migration],
    baseline_version: int | None,
    limits: Limits,
    on_event: Callable[[str], None] = lambda message: None,
    started_at: datetime | None = None,
    verb: str = "applied",
    quiet_below_s: float = 0.0,
    observer: Any = None,
    search_path_of: str | None = None,
) -> MigrationPlan:
    """Bring the database at ``conninfo`` up to ``files``; return the plan that was carried out.
    ``started_at``: when the run started (:attr:`tasks.run.Run.started_at`, the one clock, by default).
    Each file is said when done (``verb``, its time), when it took ``quiet_below_s`` or more; while
    one runs longer than a few seconds, a line every few seconds says what it waits on
    (:mod:`tasks.core.progress`). ``search_path_of``: see :func:`connect`."""
    conn = connect(conninfo, search_path_of)
    try:
        try:
            acquire_lock(conn, limits.lock_wait_s, on_event)
        except LockTimeout as exc:
            raise MigrationError(str(exc)) from None
        if not scalar(conn.execute(EXISTS_SQL)):  # the DDL needs CREATE on public even if it exists
            conn.execute(TRACKING_DDL)
        plan = plan_migrations(files, read_history(conn), baseline_version, started_at)
        if plan.problems:
            raise MigrationError(plan.problems[0])
        if plan.baseline:
            record_baseline(conn, plan.baseline)
            on_event(f"baseline: recorded {len(plan.baseline)} migration(s) up to version "
                     f"{plan.baseline[-1].version} as applied")
        by = applied_by()
        history = observed.digest(conn)
        doing = {"applied": "applying", "proved": "proving"}.get(verb, verb)
        with progress.Watch(conninfo, conn.info.backend_pid, on_event) as watch:
            for index, migration in enumerate(plan.pending, 1):
                started = time.monotonic()
                watch.doing(f"{doing} {migration.filename} ({index}/{len(plan.pending)})")
                try:
                    if migration.no_transaction:
                        history = apply_without_transaction(conn, migration, limits, by, on_event, history, observer)
                    elif observer is not None:  # the proof, watching each statement (tasks.risk.observe)
                        history = apply_observed(conn, migration, limits, by, observer, history)
                    else:
                        history = retry.with_lock_retries(
                            partial(apply_capped, conn, migration, limits, by, history), conn, migration,
                            limits.lock_retry_s, on_event, limits.lock_timeout)
                except MigrationError:
                    if verb == "proved" and (conn.closed or conn.broken):  # the shadow is the proof's alone
                        raise MigrationError(ends_session(migration)) from None
                    raise
                watch.doing(None)
                elapsed = time.monotonic() - started
                if elapsed >= quiet_below_s:
                    on_event(f"{verb} {migration.filename} ({index}/{len(plan.pending)}, {elapsed * 1000:,.0f} ms)")
        return plan
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0]
        raise MigrationError(f"lost the connection to the database: {first}: run again") from None
    finally:
        conn.close()  # closing the session releases the advisory lock
