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
from tasks.data.loader import cause, fault, parallel, transient
from tasks.data.tables import CopyError, row_count

MAINTENANCE_BUDGET_MB = 1024  # shared by the jobs building indexes at once
MEMORY_SQL = "SELECT pg_size_bytes(current_setting('maintenance_work_mem')) / 1048576"


def memory_mb(current_mb: int, jobs: int) -> int:
    """Pure: each job's ``maintenance_work_mem``: its share of the budget, never below the server's."""
    return max(current_mb, MAINTENANCE_BUDGET_MB // max(1, jobs))


def validate_sql(table: str, name: str) -> sql.Composed:
    return sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(sql.SQL(table), sql.Identifier(name))


def step(conn: psycopg.Connection, item: Aside, memory: int, log: Callable[[str], None], validate: bool) -> None:
    """One object back (``validate``: a foreign key added ``NOT VALID`` validated), its transaction
    retried on a lock wait."""

    def attempt() -> bool:
        with conn.transaction():
            conn.execute(waits.SET_LOCK_TIMEOUT)
            conn.execute(waits.NO_STATEMENT_TIMEOUT)
            if validate:
                ours = journal.still_ours(conn, item)
                if ours:
                    conn.execute(validate_sql(*ours))
                journal.put_back(conn, item)
                return ours is not None
            conn.execute(sql.SQL("SET LOCAL maintenance_work_mem = {}").format(sql.Literal(f"{memory}MB")))
            conn.execute(item.create)
            if item.kind in ("fkey", "keyindex"):
                journal.added(conn, item)
            else:
                journal.remade(conn, item)  # a foreign key set aside again, its validation still due
                journal.put_back(conn, item)
            return True

    what = f"{'validating' if validate else 'putting back'} the {label(item)} of {item.table}"
    if not waits.retrying(attempt, what, lambda: waits.blocking_sessions(conn, [item.table]), log):
        log(f"{label(item)} of {item.table}: dropped, declared again or validated by a migration since: as it is")


def label(item: Aside) -> str:
    """Pure: the object as a line names it: ``index big_v``, ``unique index of the key big_pkey``."""
    kind = {"keyindex": "unique index of the key", "key": "key"}.get(item.kind, item.kind)
    return f"{kind} {item.name.split(':', 1)[1]}"


def refused(item: Aside, exc: Exception, validate: bool, rows: tuple[int, int] | None = None) -> Exception:
    """Pure: the one line for an object that could not be put back (``rows``: its table's in the target
    and in the source, when known). The object stays in the journal, for the next run."""
    if isinstance(exc, ActionableError) or waits.is_statement_timeout(exc):
        return fault(item.table, exc)
    what = f"{'validating' if validate else 'putting back'} the {label(item)}"
    cause_text = cause(exc)
    kept = f"the rows are copied and verified (committed), the {label(item)} stays set aside"
    if transient(exc):
        return CopyError(f"table {item.table}: {what} stopped ({cause_text}): {kept}; check the target and run again")
    if getattr(exc, "sqlstate", None) == "23505" and rows and rows[0] == rows[1]:
        # as many rows as the source, verified equal to its: the source's own rows break the key (or, less
        # likely, the application changed one meanwhile)
        return CopyError(
            f"table {item.table}: {what} failed ({cause_text}): the target has the source's {rows[0]:,} rows, so "
            f"the source's own rows break it (or the application changed one meanwhile); the {label(item)} stays "
            "set aside: fix those rows in the source and set COPY_CONFLICT=replace to reload the table (a target "
            "backup is taken first), or the application's row in the target; then run again"
        )
    if getattr(exc, "sqlstate", None) == "23505":  # a unique key or index: rows the copy did not write break it
        there = "its rows stay committed"
        if rows:
            there = f"the target has {rows[0]:,} rows, the source {rows[1]:,}: rows the source does not have"
        return CopyError(
            f"table {item.table}: {what} failed ({cause_text}): {there}, written by the application while the key was "
            f"set aside; the {label(item)} stays set aside: delete the application's row(s) in the target, then run "
            "again, or set COPY_CONFLICT=replace to reload the table (a target backup is taken first)"
        )
    if getattr(exc, "sqlstate", None) == "23503":  # the target's rows break a foreign key set aside
        return CopyError(
            f"table {item.table}: {what} failed ({cause_text}): {kept}; rows in the target break it: rows the "
            "application wrote or deleted there while the key was set aside (delete or fix them in the target, or set "
            "COPY_CONFLICT=replace to reload the tables), or the source's own rows (fix them there, or declare the "
            "key NOT VALID in a migration); then run again"
        )
    return CopyError(
        f"table {item.table}: {what} failed ({cause_text}): {kept}; a rerun fails the same way: fix those rows "
        "in the source (or declare the key NOT VALID in a migration), then run again"
    )


def waiting(item: Aside, failed: set[tuple[str, str]], validate: bool) -> bool:
    """Pure: whether ``item`` waits on an object that could not be put back (``failed``: (table, name),
    or (table, ``*``) for a table whose lock an application held through every try): a key on its
    index not built, the validation of a foreign key not added, anything on a table held so."""
    if (item.table, "*") in failed:
        return True
    if item.kind == "key" and (item.table, item.name.replace("key:", "keyindex:", 1)) in failed:
        return True
    return validate and (item.table, item.name) in failed


def summary(first: Exception, left: list[Aside], failed: list[tuple[Aside, Exception]] | None = None) -> CopyError:
    """Pure: the run's one line: the first object that could not be put back, the others that failed
    too (each with its own cause), those still set aside because they rest on one, every other object
    being back."""
    failed = failed or []
    own = {id(item) for item, _ in failed}
    causes = [f"{label(i)} of {i.table} ({cause(exc)})" for i, exc in failed]
    names = sorted({f"{label(i)} of {i.table}" for i in left if i.kind != "key" and id(i) not in own})
    if not names and not causes:
        return CopyError(f"{first}; every other object is put back")
    text = str(first)
    if causes:
        text += f"; also failed: {'; '.join(causes[:3])}" + (f" and {len(causes) - 3} more" if len(causes) > 3 else "")
    if names:
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        text += f"; still set aside, resting on those: {shown} (a rerun puts them back once they are fixed)"
    return CopyError(text)


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


def put_back(
    target_service: str,
    jobs: int,
    log: Callable[[str], None],
    source_rows: Callable[[str], int] | None = None,
    validate: bool = True,
) -> int:
    """Put back everything the journal lists (this run's, or a killed run's); the number put back. An
    object that cannot be put back stops only what rests on it: every other one is put back, then the
    run fails naming it (``source_rows``: a table's rows in the source, for the line). Without
    ``validate`` (before pending migrations) the foreign keys are added ``NOT VALID``, their
    validation left to the copy (:func:`tasks.data.journal.still_ours`)."""
    with psycopg.connect(conninfo(target_service), autocommit=True) as conn:
        if not journal.exists(conn) or not journal.ready(conn):
            return 0
        items = journal.aside(conn)
        current = int(conn.execute(MEMORY_SQL).fetchone()[0])  # type: ignore[index]
    if not items:
        return 0
    started = time.monotonic()
    memory = memory_mb(current, jobs)
    failures: list[tuple[Aside, Exception, bool]] = []
    failed: set[tuple[str, str]] = set()
    left: list[Aside] = []
    lock = threading.Lock()
    for work, validating in stages(items):
        if validating and not validate:
            continue
        todo = list(work)

        def loop(todo: list[list[Aside]] = todo, validate: bool = validating) -> None:
            with psycopg.connect(conninfo(target_service), autocommit=True) as conn:
                conn.execute(waits.OWN_STATEMENT_TIMEOUT)
                while True:
                    with lock:
                        if not todo:
                            return
                        batch = todo.pop(0)
                    for item in batch:
                        with lock:
                            skip = waiting(item, failed, validate)
                        if skip:
                            with lock:
                                left.append(item)
                            continue
                        try:
                            step(conn, item, memory, log, validate)
                        except Exception as exc:  # noqa: BLE001  (one line naming the table)
                            with lock:
                                failures.append((item, exc, validate))
                                failed.add((item.table, item.name))
                                if isinstance(exc, ActionableError):  # a lock held: the table's others would wait too
                                    failed.add((item.table, "*"))
                                left.append(item)

        if todo:
            parallel(min(jobs, len(todo)), loop)
    due = [] if validate else [i for i in items if i.kind == "fkey" and i not in left]  # their validation
    count = sum(item.kind != "keyindex" for item in items if item not in left and item not in due)
    count += len(due)  # added NOT VALID: back, validated by the copy
    log(f"indexes, keys and triggers: {count} put back in {time.monotonic() - started:.1f}s")
    if failures:
        item, exc, validate = failures[0]
        rows = None
        if source_rows is not None and getattr(exc, "sqlstate", None) == "23505":
            with psycopg.connect(conninfo(target_service), autocommit=True) as conn:
                rows = (row_count(conn, item.table), source_rows(item.table))
        others = [(i, e) for i, e, _ in failures[1:]]
        raise summary(refused(item, exc, validate, rows), [i for i in left if i is not item], others)
    return count


def before_migrations(target_service: str, jobs: int, pending: int, log: Callable[[str], None]) -> None:
    """What an interrupted data copy set aside, put back before ``pending`` migrations run, so that they
    see the schema they were written for (the foreign keys added ``NOT VALID``: the copy validates those
    still as it added them); an object that cannot be put back stops them."""
    try:
        put_back(target_service, jobs, log, validate=False)
    except CopyError as exc:
        raise CopyError(f"{exc}; the {pending} pending migration(s) wait until it is back (none ran)") from exc
