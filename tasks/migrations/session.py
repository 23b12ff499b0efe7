"""
The migration engine's session: one psycopg connection for the whole run, with the pinned settings
(libpq ``service=...``: no secret in any argv), the limits every statement runs under, the reset
after each file, and the check that the deploy's advisory lock is still held (:mod:`tasks.core.lock`).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from tasks.core.lock import LOCK_KEY, lock_held
from tasks.core.pinned import PINNED_OPTIONS
from tasks.migrations.failures import MigrationError, lock_lost
from tasks.migrations.files import Migration

# After every file: the session as it was before it (settings incl. search_path, role, temporary
# tables, prepared statements, cursors, listeners), so what one file SETs never leaks into the next.
# (Not DISCARD ALL: it would let go of the deploy's advisory lock and cannot run in a transaction.)
RESET_SESSION = (
    "RESET ALL; RESET ROLE; RESET SESSION AUTHORIZATION; DISCARD TEMP; DISCARD SEQUENCES; "
    "DEALLOCATE ALL; CLOSE ALL; UNLISTEN *"
)


@dataclass(frozen=True)
class Limits:
    lock_wait_s: float = 60.0
    lock_timeout: str = "5s"
    statement_timeout: str = "0"
    lock_retry_s: float = 0.0  # a file whose lock was not granted is retried for this long (tasks.migrations.retry)


def ensure_lock(conn: psycopg.Connection, migration: Migration) -> None:
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


def limits_sql(limits: Limits, local: bool) -> sql.Composed:
    scope = sql.SQL("SET LOCAL" if local else "SET")
    return sql.SQL("{0} lock_timeout = {1}; {0} statement_timeout = {2}").format(
        scope, sql.Literal(limits.lock_timeout), sql.Literal(limits.statement_timeout)
    )


def simple(conn: psycopg.Connection, query: sql.Composable) -> None:
    """Send one or more statements in a single round trip (simple query protocol)."""
    conn.execute(query.as_bytes(conn))


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
