"""
What the copy set aside (:mod:`tasks.data.journal`) put back once the rows are in, by ``jobs``
connections at once: the triggers enabled and the indexes built first (``maintenance_work_mem``
shared out between the jobs), then the foreign keys added ``NOT VALID`` and validated (``VALIDATE``
reads the rows without blocking the application's writes). Each step is its own transaction, the
journal's row deleted in it, every lock wait bounded and retried (:mod:`tasks.core.waits`): a kill
at any moment leaves what a rerun finishes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psycopg
from psycopg import sql

from tasks.core import waits
from tasks.core.connections import conninfo
from tasks.data import journal
from tasks.data.journal import Aside
from tasks.data.loader import fault, parallel

MAINTENANCE_BUDGET_MB = 1024  # shared by the jobs building indexes at once
MEMORY_SQL = "SELECT pg_size_bytes(current_setting('maintenance_work_mem')) / 1048576"


def memory_mb(current_mb: int, jobs: int) -> int:
    """Pure: each job's ``maintenance_work_mem``: its share of the budget, never below the server's."""
    return max(current_mb, MAINTENANCE_BUDGET_MB // max(1, jobs))


def validate_sql(item: Aside) -> sql.Composed:
    return sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(
        sql.SQL(item.table), sql.Identifier(item.name.removeprefix("fkey:"))
    )


def put_back_one(conn: psycopg.Connection, item: Aside, memory: int, log: Callable[[str], None]) -> None:
    """One object back, each of its transactions retried on a lock wait."""

    def build() -> None:
        with conn.transaction():
            conn.execute(waits.SET_LOCK_TIMEOUT)
            conn.execute(waits.NO_STATEMENT_TIMEOUT)
            conn.execute(sql.SQL("SET LOCAL maintenance_work_mem = {}").format(sql.Literal(f"{memory}MB")))
            conn.execute(item.create)
            if item.kind == "fkey":
                journal.added(conn, item)
            else:
                journal.put_back(conn, item)

    def validate() -> None:
        with conn.transaction():
            conn.execute(waits.SET_LOCK_TIMEOUT)
            conn.execute(waits.NO_STATEMENT_TIMEOUT)
            conn.execute(validate_sql(item))
            journal.put_back(conn, item)

    what = f"{item.kind} {item.name.split(':', 1)[1]} of {item.table}"
    blockers = lambda: waits.blocking_sessions(conn, [item.table])  # noqa: E731
    if not item.added:
        waits.retrying(build, f"putting back the {what}", blockers, log)
    if item.kind == "fkey":
        waits.retrying(validate, f"validating the {what}", blockers, log)


def put_back(target_service: str, jobs: int, log: Callable[[str], None]) -> int:
    """Put back everything the journal lists (this run's, or a killed run's); the number put back."""
    with psycopg.connect(conninfo(target_service), autocommit=True) as conn:
        if not journal.exists(conn):
            return 0
        items = journal.aside(conn)
        current = int(conn.execute(MEMORY_SQL).fetchone()[0])  # type: ignore[index]
    if not items:
        return 0
    started = time.monotonic()
    memory = memory_mb(current, jobs)
    failures: list[Exception] = []
    for phase in ([i for i in items if i.kind != "fkey"], [i for i in items if i.kind == "fkey"]):
        todo = list(phase)
        lock = threading.Lock()

        def loop(todo: list[Aside] = todo, lock: threading.Lock = lock) -> None:
            with psycopg.connect(conninfo(target_service), autocommit=True) as conn:
                conn.execute(waits.OWN_STATEMENT_TIMEOUT)
                while True:
                    with lock:
                        if failures or not todo:
                            return
                        item = todo.pop(0)
                    try:
                        put_back_one(conn, item, memory, log)
                    except Exception as exc:  # noqa: BLE001  (one line naming the table)
                        with lock:
                            failures.append(fault(item.table, exc))

        if todo:
            parallel(min(jobs, len(todo)), loop)
        if failures:
            raise failures[0]
    log(f"indexes, keys and triggers: {len(items)} put back in {time.monotonic() - started:.1f}s")
    return len(items)
