"""
Every lock the tool takes outside migrations waits a bounded time, is retried while the wait can
end, and fails in one line naming the session in the way.

A statement that needs a lock an application's open transaction holds does not only wait: every
application statement that arrives after it queues behind it (PostgreSQL grants locks in order). So
the tool's own transactions run with ``SET LOCAL lock_timeout`` (:data:`LOCK_TIMEOUT`): the wait
ends after a few seconds, the transaction rolls back, the application's queued statements go
through, and the tool tries again after a pause (:func:`retrying`, :data:`ATTEMPTS` tries, the
pauses growing). When the last try times out, :func:`blocking_sessions` names who holds the
tables: the lock's holder, with its ``application_name``, state and for how long (read after the
wait ended, so from ``pg_locks``' granted entries rather than ``pg_blocking_pids()``, which only
answers while one waits).

The tool's own long statements (a table's COPY, its checksums, the ANALYZE after a load, the row
counts a backup records and a restore is checked against, a restore, the seed's counts) set
``statement_timeout`` themselves to 0 (:data:`NO_STATEMENT_TIMEOUT`, :data:`OWN_STATEMENT_TIMEOUT`):
a role-level ``ALTER ROLE … SET statement_timeout`` is the application's guard, not a limit for a
data load.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from tasks.core.errors import ActionableError

LOCK_TIMEOUT = "2s"  # how long one try waits for a lock (the application's statements queue that long at most)
ATTEMPTS = 4  # tries before giving up; the pauses between them: 1 s, 2 s, 4 s
FIRST_PAUSE_S = 1.0
SET_LOCK_TIMEOUT = f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"
NO_STATEMENT_TIMEOUT = "SET LOCAL statement_timeout = 0"
OWN_STATEMENT_TIMEOUT = "SET statement_timeout = 0"  # a session of the tool's own long statements
STATEMENT_TIMEOUT_CAUSE = (
    "a statement_timeout cancelled it (a setting of the role or database on the server, "
    "ALTER ROLE … SET statement_timeout): raise it for this role, or run again"
)
LOCK_NOT_AVAILABLE = "55P03"
QUERY_CANCELED = "57014"

# Sessions other than ours holding a granted lock on one of the relations (oids), oldest first.
HOLDERS_SQL = """
SELECT DISTINCT a.pid, coalesce(nullif(a.application_name, ''), 'no application_name'), a.state,
       extract(epoch FROM now() - coalesce(a.xact_start, a.backend_start))::bigint AS seconds,
       l.relation::regclass::text
  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.granted AND l.locktype = 'relation' AND l.relation = ANY(%(relations)s::oid[])
   AND l.pid <> pg_backend_pid()
 ORDER BY seconds DESC, a.pid
"""
OWNED_TABLES_SQL = """
SELECT coalesce(array_agg(c.oid), '{}') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
"""

T = TypeVar("T")


class LockWaitError(ActionableError):
    """A lock the tool needs stayed held by another session through every try."""


def is_lock_timeout(exc: BaseException) -> bool:
    """Whether ``exc`` (psycopg's, or the text of psql's error) is a lock wait that ran out."""
    if getattr(exc, "sqlstate", None) == LOCK_NOT_AVAILABLE:
        return True
    return "canceling statement due to lock timeout" in str(exc)


def is_statement_timeout(exc: BaseException) -> bool:
    return "canceling statement due to statement timeout" in str(exc)


def describe_holders(rows: Sequence[Sequence[Any]]) -> str:
    """Pure: ``pid 123 (app "web", idle in transaction for 40s, holding public.users)``, one per session."""
    seen: dict[int, list[Any]] = {}
    for pid, app, state, seconds, relation in rows:
        if pid in seen:
            seen[pid][4].append(relation)
        else:
            seen[pid] = [pid, app, state, seconds, [relation]]
    parts = [
        f'pid {pid} (application_name "{app}", '
        + (f"{state} for {seconds}s" if seconds is not None else "state not visible to this role")
        + f", holding {', '.join(relations[:3])}"
        + (" …" if len(relations) > 3 else "")
        + ")"
        for pid, app, state, seconds, relations in seen.values()
    ]
    return "; ".join(parts) or "a session that has ended since"


def blocking_sessions(conn: Any, relations: Sequence[str] | None = None) -> str:
    """Who holds locks on ``relations`` (names; None: every relation the connected role owns), for
    the message; read over ``conn`` (a psycopg connection out of any failed transaction)."""
    try:
        if relations is None:
            oids = conn.execute(OWNED_TABLES_SQL).fetchone()[0]
        else:
            oids = [conn.execute("SELECT %s::regclass::oid", (name,)).fetchone()[0] for name in relations]
        return describe_holders(conn.execute(HOLDERS_SQL, {"relations": oids}).fetchall())
    except Exception:  # noqa: BLE001 - the message goes out anyway, without the name
        return "a session that could not be read"


def retrying(
    attempt: Callable[[], T],
    what: str,
    blockers: Callable[[], str],
    log: Callable[[str], None],
    attempts: int = ATTEMPTS,
    first_pause_s: float = FIRST_PAUSE_S,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """
    ``attempt()`` until it does not end on a lock timeout: each try rolled back whole by the caller,
    a pause between tries (doubling), at most ``attempts`` tries. Then :class:`LockWaitError`
    naming ``blockers()`` and the way forward. Any other error goes through untouched.
    """
    pause = first_pause_s
    for number in range(1, attempts + 1):
        try:
            return attempt()
        except Exception as exc:
            if not is_lock_timeout(exc):
                raise
            if number == attempts:
                raise LockWaitError(
                    f"{what}: waited {attempts} times {LOCK_TIMEOUT} for a lock held by {blockers()}; nothing was "
                    "changed by this step (the application's statements were not held up); end that session's "
                    "transaction (or wait for it), then run again"
                ) from None
            log(
                f"{what}: a lock is held by another session ({blockers()}): retrying in {pause:g}s "
                f"({number}/{attempts - 1})"
            )
            sleep(pause)
            pause *= 2
    raise AssertionError("unreachable")
