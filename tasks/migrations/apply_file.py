"""
Applying one migration file in the engine's session (:mod:`tasks.migrations.session`), with its
``schema_migrations`` row:

* in one transaction and one round trip (:func:`apply_in_transaction`), a failure still naming its
  statement's line;
* the same transaction a round trip per statement, watched by the proof (:func:`apply_observed`);
* a no-transaction file statement by statement, after INVALID indexes it builds are dropped
  (:func:`apply_without_transaction`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import psycopg
from psycopg import generators, sql

from tasks.core import interrupt
from tasks.migrations import observed
from tasks.migrations.failures import MigrationError, failure, lock_lost
from tasks.migrations.files import Migration
from tasks.migrations.session import (
    LOCK_CHECK_SQL,
    LOCK_LOST,
    RESET_SESSION,
    Limits,
    ensure_lock,
    limits_sql,
    simple,
)

INVALID_INDEX_SQL = """
SELECT n.nspname, c.relname FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT i.indisvalid AND c.relname = ANY(%s)
"""


def record_sql(migration: Migration, kind: str, started: float | None, by: str) -> sql.Composed:
    """The tracking row; ``started`` None: its time is the server's since the transaction began."""
    elapsed = (
        # pg_catalog's operators and functions, named: a ``numeric * integer`` of the file's would win
        sql.SQL(
            "(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) pg_catalog.now()) "
            "OPERATOR(pg_catalog.*) 1000)::int"
        )
        if started is None
        else sql.Literal(int((time.monotonic() - started) * 1000))
    )
    return sql.SQL(
        "INSERT INTO public.schema_migrations (version, name, checksum, kind, applied_at, execution_ms, applied_by) "
        "VALUES ({}, {}, {}, {}, pg_catalog.now(), {}, {})"  # every column given: no default of the table runs
    ).format(*map(sql.Literal, (migration.version, migration.name, migration.checksum, kind)), elapsed, sql.Literal(by))


def run_statements(conn: psycopg.Connection, migration: Migration, limits: Limits, observer: Any = None) -> None:
    """
    A no-transaction file's statements one by one, each in its own round trip (a message of several
    would open a transaction block), the limits set again before every statement after the first,
    so whatever a statement does to them (``SET``, ``RESET ALL``, ``set_config()``, a function)
    holds for itself only; after each, the check that the deploy's lock is still held.
    """
    prefix = limits_sql(limits, local=False).as_bytes(conn)
    for index, statement in enumerate(migration.statements):
        try:
            if index:
                conn.execute(prefix)
            conn.execute(statement.text.encode())
            if observer is not None:  # the proof: which tables it rewrote (its locks ended with it)
                observer.rewrites(conn, migration, statement)
            ensure_lock(conn, migration)
        except psycopg.Error as exc:
            raise failure(migration, exc, statement.offset) from None


LIMIT_STATEMENTS = 2  # what limits_sql sends before each statement: SET LOCAL lock_timeout, statement_timeout


def _results(conn: psycopg.Connection, message: str) -> list:
    """Every result of a message of several statements, in order, up to the first error (the
    server skips the rest): which statement failed is the count of those before it."""
    conn.pgconn.send_query(message.encode())
    return conn.wait(generators.execute(conn.pgconn))


def _closing(
    conn: psycopg.Connection, migration: Migration, limits: Limits, by: str, history: str, full: bool = False
) -> str:
    """What ends a file's transaction, in the same message: the deploy's lock still held, the session
    reset and the limits set again (the tool's INSERT waits no longer than a statement of the file), the
    file's deferred triggers and constraints fired now (so the check sees what they did), the history
    unchanged by anyone else, the file recorded (its row version returned: the new digest is the checked
    one with it, :func:`observed.after_record`), COMMIT. ``full``: the table's definition checked too (the proof)."""
    record = record_sql(migration, "applied", None, by).as_string(conn)
    record += f" RETURNING {observed.ROW_MARK}"
    limits_now = limits_sql(limits, local=True).as_string(conn)
    return (
        f"{LOCK_CHECK_SQL}; {RESET_SESSION}; {limits_now}; SET CONSTRAINTS ALL IMMEDIATE; "
        f"{observed.check_sql(history, full)}; {record}; COMMIT"
    )


def apply_in_transaction(
    conn: psycopg.Connection, migration: Migration, limits: Limits, by: str, history: str = ""
) -> str:
    """
    One round trip a file (psql's ``BEGIN; \\i file; COMMIT`` takes n + 2): BEGIN, each statement
    with the limits set again before it, the lock check, the session reset, the tracking row (its
    time the server's) and COMMIT, as one message. The server runs them in turn and stops at the
    first error; the results before it say which statement that was, so the error names its line.
    ``history``: the history's digest before the file (:mod:`tasks.migrations.observed`), checked before
    the tracking row; the digest with the row is returned.
    """
    prefix = limits_sql(limits, local=True).as_string(conn) + "; "
    message, starts = ["BEGIN; "], []
    length = len(message[0])
    for statement in migration.statements:
        starts.append(length + len(prefix))
        message.append(prefix + statement.text + "\n;\n")  # a line break: a statement may end in a -- comment
        length += len(message[-1])
    message.append(_closing(conn, migration, limits, by, history))
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
        return observed.after_record(history, results[-2].get_value(0, 0).decode())  # the row's mark
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


def apply_observed(
    conn: psycopg.Connection, migration: Migration, limits: Limits, by: str, observer, history: str = ""
) -> str:
    """
    The proof's way (:mod:`tasks.risk.observe`): the same transaction as :func:`apply_in_transaction`,
    but a round trip per statement, so ``observer.after`` reads what the statement holds and rewrote.
    The history's digest is checked before the tracking row, as there; the digest with it is returned.
    """
    prefix = limits_sql(limits, local=True).as_string(conn) + "; "
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
            observer.record(
                migration, statement, [[last.get_value(i, j) for j in range(last.nfields)] for i in range(last.ntuples)]
            )
        index = -1
        results = _results(conn, _closing(conn, migration, limits, by, history, full=True))
        failed = next((r for r in results if r.status == psycopg.pq.ExecStatus.FATAL_ERROR), None)
        if failed is not None:
            raise psycopg.errors.error_from_result(failed, encoding=conn.info.encoding)
        return observed.after_record(history, results[-2].get_value(0, 0).decode())  # the row's mark
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


def apply_capped(
    conn: psycopg.Connection, migration: Migration, limits: Limits, by: str, history: str, lock_timeout: str
) -> str:
    """:func:`apply_in_transaction` with this try's lock_timeout (a retry's is capped by the time left)."""
    return apply_in_transaction(conn, migration, replace(limits, lock_timeout=lock_timeout), by, history)


def drop_invalid_indexes(conn: psycopg.Connection, migration: Migration, on_event: Callable[[str], None]) -> None:
    names = list(migration.concurrent_indexes)
    if not names:
        return
    for schema, index in conn.execute(INVALID_INDEX_SQL, (names,)).fetchall():
        on_event(f"{migration.filename}: dropping INVALID index {index} left by an interrupted build")
        conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(schema, index)))


def apply_without_transaction(
    conn: psycopg.Connection,
    migration: Migration,
    limits: Limits,
    by: str,
    on_event: Callable[[str], None],
    history: str = "",
    observer: Any = None,
) -> str:
    started = time.monotonic()
    drop_invalid_indexes(conn, migration, on_event)
    if observer is not None:
        observer.start(conn, migration)
    simple(conn, limits_sql(limits, local=False))
    try:
        run_statements(conn, migration, limits, observer)
        simple(conn, sql.SQL(RESET_SESSION))
        simple(conn, limits_sql(limits, local=False))  # the reading and the tool's row wait no longer than a statement
        full = observer is not None  # the proof checks the table's definition too
        if observed.digest(conn, full) != history:
            raise MigrationError(observed.changed_message(migration.filename, kept=True))
        simple(conn, record_sql(migration, "applied", started, by))
        return observed.digest(conn, full)
    finally:
        if not conn.closed and not conn.broken:
            conn.execute(RESET_SESSION)
