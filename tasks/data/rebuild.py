"""
What the copy set aside (:mod:`tasks.data.journal`) put back once the rows are in, by ``jobs``
connections at once, in stages where the jobs never wait on each other's locks (:func:`stages`):
the indexes built, the primary keys' and unique constraints' among them (``maintenance_work_mem``
shared out between the jobs; ``CREATE UNIQUE INDEX`` takes the lock a plain index does, so a table's
key and other indexes are built at once), then the keys put on their indexes (``ADD CONSTRAINT …
USING INDEX``: no scan), the triggers enabled and the foreign keys added ``NOT VALID`` (on the keys
just put back), then validated (``VALIDATE`` reads the rows without blocking the application's
writes). Each step is its own transaction, the
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
from tasks.core.errors import ActionableError
from tasks.data import journal
from tasks.data.journal import Aside
from tasks.data.loader import fault, first_line, parallel, transient
from tasks.data.tables import CopyError

MAINTENANCE_BUDGET_MB = 1024  # shared by the jobs building indexes at once
MEMORY_SQL = "SELECT pg_size_bytes(current_setting('maintenance_work_mem')) / 1048576"


def memory_mb(current_mb: int, jobs: int) -> int:
    """Pure: each job's ``maintenance_work_mem``: its share of the budget, never below the server's."""
    return max(current_mb, MAINTENANCE_BUDGET_MB // max(1, jobs))


def validate_sql(item: Aside) -> sql.Composed:
    return sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(
        sql.SQL(item.table), sql.Identifier(item.name.removeprefix("fkey:"))
    )


def step(conn: psycopg.Connection, item: Aside, memory: int, log: Callable[[str], None], validate: bool) -> None:
    """One object back (``validate``: a foreign key added ``NOT VALID`` validated), its transaction
    retried on a lock wait."""

    def attempt() -> None:
        with conn.transaction():
            conn.execute(waits.SET_LOCK_TIMEOUT)
            conn.execute(waits.NO_STATEMENT_TIMEOUT)
            if validate:
                conn.execute(validate_sql(item))
                journal.put_back(conn, item)
                return
            conn.execute(sql.SQL("SET LOCAL maintenance_work_mem = {}").format(sql.Literal(f"{memory}MB")))
            conn.execute(item.create)
            if item.kind in ("fkey", "keyindex"):
                journal.added(conn, item)
            else:
                journal.put_back(conn, item)

    what = f"{'validating' if validate else 'putting back'} the {label(item)} of {item.table}"
    waits.retrying(attempt, what, lambda: waits.blocking_sessions(conn, [item.table]), log)


def label(item: Aside) -> str:
    """Pure: the object as a line names it: ``index big_v``, ``unique index of the key big_pkey``."""
    kind = {"keyindex": "unique index of the key", "key": "key"}.get(item.kind, item.kind)
    return f"{kind} {item.name.split(':', 1)[1]}"


def refused(item: Aside, exc: Exception, validate: bool) -> Exception:
    """Pure: the one line for an object that could not be put back. Its table's rows are in and
    verified (committed); the object stays in the journal, for the next run."""
    if isinstance(exc, ActionableError) or waits.is_statement_timeout(exc):
        return fault(item.table, exc)
    what = f"{'validating' if validate else 'putting back'} the {label(item)}"
    kept = f"the rows are copied and verified (committed), the {label(item)} stays set aside"
    if transient(exc):
        return CopyError(
            f"table {item.table}: {what} stopped ({first_line(exc)}): {kept}; check the target and run again"
        )
    if getattr(exc, "sqlstate", None) == "23505":  # a unique key or index: rows the copy did not write break it
        return CopyError(
            f"table {item.table}: {what} failed ({first_line(exc)}): {kept}; the target has rows the source has not "
            "(written during the copy): delete them, or set COPY_CONFLICT=replace to reload the table, then run again"
        )
    return CopyError(
        f"table {item.table}: {what} failed ({first_line(exc)}): {kept}; a rerun fails the same way: fix those rows "
        "in the source (or declare the key NOT VALID in a migration), then run again"
    )


def stages(items: list[Aside]) -> list[tuple[list[list[Aside]], bool]]:
    """Pure: the steps in an order where the jobs never wait on each other's locks: the indexes, the
    keys' among them (at once: their SHARE locks agree), the keys put on their indexes, the triggers
    then the foreign keys added ``NOT VALID`` (quick ALTER TABLEs, one after the other: a foreign key
    after the key it rests on), then the validations, at once across tables but one after the other
    on one table. Each stage: its lists of work (one list per job), and whether it validates."""
    indexes = [[i] for i in items if i.kind == "index" or (i.kind == "keyindex" and not i.added)]
    quick = [i for i in items if i.kind == "key"] + [i for i in items if i.kind in ("trigger", "notvalid")]
    quick += [i for i in items if i.kind == "fkey" and not i.added]
    per_table: dict[str, list[Aside]] = {}
    for item in items:
        if item.kind == "fkey":
            per_table.setdefault(item.table, []).append(item)
    return [(indexes, False), ([quick] if quick else [], False), (list(per_table.values()), True)]


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
    lock = threading.Lock()
    for work, validate in stages(items):
        todo = list(work)

        def loop(todo: list[list[Aside]] = todo, validate: bool = validate) -> None:
            with psycopg.connect(conninfo(target_service), autocommit=True) as conn:
                conn.execute(waits.OWN_STATEMENT_TIMEOUT)
                while True:
                    with lock:
                        if failures or not todo:
                            return
                        batch = todo.pop(0)
                    for item in batch:
                        try:
                            step(conn, item, memory, log, validate)
                        except Exception as exc:  # noqa: BLE001  (one line naming the table)
                            with lock:
                                failures.append(refused(item, exc, validate))
                            return

        if todo:
            parallel(min(jobs, len(todo)), loop)
        if failures:
            raise failures[0]
    count = sum(item.kind != "keyindex" for item in items)  # a key and its index: one
    log(f"indexes, keys and triggers: {count} put back in {time.monotonic() - started:.1f}s")
    return count
