"""
Lock waits retried: a transactional file whose statement could not get its lock within
MIGRATION_LOCK_TIMEOUT (SQLSTATE 55P03) has been rolled back whole; it is run again, with
exponential backoff and full jitter, until LOCK_RETRY_S has passed. Each retry prints one line
naming the sessions that held a lock on the statement's tables when it gave up (pid,
application_name, state, for how long): what ``pg_blocking_pids`` would have named while it waited.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

LOCK_NOT_AVAILABLE = "55P03"
FIRST_PAUSE_S = 0.5
MAX_PAUSE_S = 10.0

HOLDERS_SQL = """
SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.state, ''),
       extract(epoch FROM now() - coalesce(a.xact_start, a.query_start, a.backend_start))::int
  FROM pg_catalog.pg_stat_activity a
 WHERE a.pid IN (SELECT l.pid FROM pg_catalog.pg_locks l
                  WHERE l.granted AND l.locktype = 'relation' AND l.pid <> pg_catalog.pg_backend_pid()
                    AND l.relation IN (SELECT to_regclass(name) FROM unnest(%s::text[]) AS t(name)))
 ORDER BY a.pid
"""


def relations(node: object) -> list[str]:
    """Every table a parse tree names (libpg_query's JSON: a dict with ``relname``), as SQL writes it."""
    from tasks.risk.classify import table_name

    found: list[str] = []
    if isinstance(node, dict):
        if "relname" in node:
            found.append(table_name(node))
        for value in node.values():
            found += relations(value)
    elif isinstance(node, list):
        for value in node:
            found += relations(value)
    return found


def pause(attempt: int, left: float, rand: Callable[[], float] = random.random) -> float:
    """Full jitter: a random pause up to FIRST_PAUSE_S · 2^attempt (at most MAX_PAUSE_S and the time left)."""
    return max(0.0, min(left, rand() * min(MAX_PAUSE_S, FIRST_PAUSE_S * 2**attempt)))


def describe_holders(rows: list[tuple]) -> str:
    if not rows:
        return "no session holds a lock on its tables any more"
    return "; ".join(
        f"pid {pid} ({app or 'no application_name'}, "
        + (f"{state}, {seconds} s)" if state else "another role's session: state not visible)")
        for pid, app, state, seconds in rows
    )


def holders(conn, tables: list[str]) -> list[tuple]:
    try:
        return conn.execute(HOLDERS_SQL, (sorted(set(tables)),)).fetchall()
    except Exception:  # noqa: BLE001 - the retry line is information; the retry goes on without it
        return []


def capped(lock_timeout: str, left_s: float) -> str:
    """Pure: a retry's lock_timeout, no longer than the time left (``0``, no limit, is kept: no retry ever
    follows a wait without end), at least 1 ms (0 would mean none)."""
    from tasks.core.setting_values import PG_TIME_UNITS_MS

    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)\s*(us|ms|s|min|h|d)?", lock_timeout.strip())
    if not match:
        return lock_timeout
    ms = float(match.group(1)) * PG_TIME_UNITS_MS[match.group(2) or ""]
    if ms == 0:
        return lock_timeout
    return f"{max(1, math.floor(min(ms, left_s * 1000)))}ms"


def given_up(exc: Exception, attempts: int, retry_s: float, rows: list[tuple]) -> Exception:
    """The lock timeout's error once the retries are spent: how long it was retried, and who held the lock."""
    said = str(exc)
    spent = f"retried {attempts} time(s) for LOCK_RETRY_S={retry_s:g} s" if retry_s > 0 else "LOCK_RETRY_S=0"
    told = f"within MIGRATION_LOCK_TIMEOUT ({spent}; held by {describe_holders(rows)})"
    error = type(exc)(said.replace("within MIGRATION_LOCK_TIMEOUT", told, 1))
    error.sqlstate, error.offset = getattr(exc, "sqlstate", None), getattr(exc, "offset", None)  # type: ignore[attr-defined]
    return error


def with_lock_retries(
    apply: Callable[[str], T], conn, migration, retry_s: float, on_event: Callable[[str], None], lock_timeout: str
) -> T:
    """``apply(lock_timeout)``, run again after a lock timeout until ``retry_s`` has passed; each retry waits
    for its lock no longer than the time left, so the whole ends within ``retry_s`` after the first try."""
    deadline = time.monotonic() + retry_s
    attempt = 0
    timeout = lock_timeout
    while True:
        try:
            return apply(timeout)
        except Exception as exc:
            left = deadline - time.monotonic()
            if getattr(exc, "sqlstate", None) != LOCK_NOT_AVAILABLE or conn.closed or conn.broken:
                raise
            offset = getattr(exc, "offset", None)
            from tasks.risk.classify import parsed  # a kept split has no parse trees: the relations need them

            statements = parsed(migration)
            statement = next((s for s in statements if s.offset == offset), statements[0])
            rows = holders(conn, relations(statement.node))
            if left <= 0:
                raise given_up(exc, attempt, retry_s, rows) from exc
            wait = pause(attempt, left)
            attempt += 1
            on_event(
                f"{migration.filename} line {statement.line}: lock not granted, retry {attempt} in {wait:.1f} s "
                f"(up to LOCK_RETRY_S, {left:.0f} s left); held by {describe_holders(rows)}"
            )
            time.sleep(wait)
            timeout = capped(lock_timeout, deadline - time.monotonic())
