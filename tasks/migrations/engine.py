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
  (:data:`tasks.migrations.session.RESET_SESSION`), in the proof and on the target alike.
* A no-transaction file runs statement by statement after INVALID indexes it builds (left by a
  killed CREATE INDEX CONCURRENTLY) are dropped, so re-running it after a crash works.

Here: the run (lock, history, baseline, each pending file in turn); the session is
:mod:`tasks.migrations.session`, one file's application :mod:`tasks.migrations.apply_file`.
"""

from __future__ import annotations

import getpass
import socket
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

import psycopg

from tasks.core import progress
from tasks.core.lock import LockTimeout, acquire_lock
from tasks.core.rows import scalar
from tasks.migrations import observed, retry
from tasks.migrations.apply_file import (
    apply_capped,
    apply_observed,
    apply_without_transaction,
    record_sql,
)
from tasks.migrations.failures import MigrationError, ends_session
from tasks.migrations.files import Migration
from tasks.migrations.history import EXISTS_SQL, HISTORY_SQL, ROWS_SQL, history_from_rows
from tasks.migrations.plan import MigrationPlan, TargetHistory, plan_migrations
from tasks.migrations.session import Limits, connect, simple

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


def record_baseline(conn: psycopg.Connection, migrations: list[Migration]) -> None:
    by = applied_by()
    with conn.transaction():
        for migration in migrations:
            simple(conn, record_sql(migration, "baseline", time.monotonic(), by))


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
            on_event(
                f"baseline: recorded {len(plan.baseline)} migration(s) up to version "
                f"{plan.baseline[-1].version} as applied"
            )
        if found := observed.hazards(conn):
            raise MigrationError(observed.hazard_message(found))
        by = applied_by()
        full = observer is not None  # the proof checks the table's definition in each file's transaction
        history = observed.digest(conn, full)  # the proof's holds the definition: it is not read again
        shape = None if full else observed.definition(conn)
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
                            partial(apply_capped, conn, migration, limits, by, history),
                            conn,
                            migration,
                            limits.lock_retry_s,
                            on_event,
                            limits.lock_timeout,
                        )
                except MigrationError:
                    if verb == "proved" and (conn.closed or conn.broken):  # the shadow is the proof's alone
                        raise MigrationError(ends_session(migration)) from None
                    raise
                watch.doing(None)
                elapsed = time.monotonic() - started
                if elapsed >= quiet_below_s:
                    on_event(f"{verb} {migration.filename} ({index}/{len(plan.pending)}, {elapsed * 1000:,.0f} ms)")
        if plan.pending and (observed.digest(conn, full) != history or (shape and observed.definition(conn) != shape)):
            # after the last file, or the table's definition (checked in the proof, not in each file here)
            raise MigrationError(observed.changed_during_run_message(plan.pending[-1].filename))
        return plan
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0]
        raise MigrationError(f"lost the connection to the database: {first}: run again") from None
    finally:
        conn.close()  # closing the session releases the advisory lock
