"""
The advisory lock key that serialises deploys on one target: migrations hold it for their session
(polled with a bounded wait), the seed transaction and the data copy take it too, so two deploys
started together never apply, insert or copy the same thing twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg

from tasks.core.errors import ActionableError
from tasks.core.rows import scalar

LOCK_KEY = 0x7067_636F_6E76  # "pgconv"
LOCK_POLL_S = 0.2


class LockTimeout(ActionableError, RuntimeError):
    """The lock was not had within the wait; the message names the session holding it."""


def describe_lock_holder(conn: psycopg.Connection) -> str:
    row = conn.execute(
        """
        SELECT a.pid, coalesce(nullif(a.application_name, ''), '?'), coalesce(a.client_addr::text, 'local'),
               date_trunc('second', now() - a.backend_start)::text
          FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s AND l.objsubid = 1
        """,
        (LOCK_KEY >> 32, LOCK_KEY & 0xFFFFFFFF),
    ).fetchone()
    if not row:
        return "a session that has just let go"
    pid, app, addr, age = row
    return f"pid {pid} (application {app}, from {addr}, connected {age} ago)"


def acquire_lock(conn: psycopg.Connection, wait_s: float, on_event: Callable[[str], None]) -> None:
    deadline = time.monotonic() + wait_s
    told = False
    while not scalar(conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))):
        if time.monotonic() >= deadline:
            raise LockTimeout(
                f"another deploy holds the migration lock after {wait_s:g}s: {describe_lock_holder(conn)}; "
                "wait for it to finish, or stop it, then run again (MIGRATION_LOCK_WAIT sets the wait)"
            )
        if not told:
            on_event(f"waiting up to {wait_s:g}s for the migration lock held by {describe_lock_holder(conn)}")
            told = True
        time.sleep(LOCK_POLL_S)


def lock_held(conn: psycopg.Connection) -> bool:
    """Whether this session still holds the deploy's lock (a statement may have let go of it)."""
    return scalar(
        conn.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
            "AND granted AND classid = %s AND objid = %s AND objsubid = 1)",
            (LOCK_KEY >> 32, LOCK_KEY & 0xFFFFFFFF),
        )
    )
