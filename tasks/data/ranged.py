"""
A big table copied in ranges (:mod:`tasks.data.ranges`) by every job: each range in its own target
transaction, its rows counted against the source's before COMMIT and marked done in the journal
(:mod:`tasks.data.journal`) in that same transaction; once every range is in, the whole table's
checksum against the sum of its ranges' (the checksum is a sum of row hashes), then the table's
ranges forgotten. A rerun skips a range done before whose source rows are still the same and
copies the others again (emptying the rows they replace first), even to no rows at all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
from psycopg import sql

from tasks.core import waits
from tasks.data import journal, ranges
from tasks.data.journal import Range
from tasks.data.keys import BULK_FROM_BYTES
from tasks.data.loader import SIZE_SQL, Worker, cause, stream
from tasks.data.tables import CopyError, TableRefused, TableState, range_state, row_count, table_state


def copy_range(worker: Worker, r: Range, log: Callable[[str], None]) -> None:
    """Copy range ``r`` of its table (one try per lock wait, bounded)."""
    want: dict[str, TableState] = {}
    summing = threading.Thread(target=lambda: want.update(s=range_state(worker.src, r.table, ranges.predicate(r))))
    columns = worker.src_catalog.columns(r.table)
    summing.start()
    copied = {r.table: 0}

    def attempt() -> None:
        with worker.dst.transaction():
            worker.dst.execute(waits.SET_LOCK_TIMEOUT)
            worker.dst.execute(waits.NO_STATEMENT_TIMEOUT)
            worker.forget(copied, r.table)
            moved = worker.counter(copied, r.table)
            rows = stream(worker.source, worker.dst, r.table, columns, log, ranges.predicate(r), moved)
            summing.join()
            if "s" not in want or want["s"].rows != rows:
                raise CopyError(
                    f"table {r.table}: range {r.number + 1} has {rows:,} rows in the target, not the source's: "
                    "rolled back; run again"
                )
            journal.range_done(worker.dst, r, rows, want["s"].checksum or "0")

    try:
        waits.retrying(attempt, f"copying {r.table}", lambda: waits.blocking_sessions(worker.dst, [r.table]), log)
    finally:
        summing.join()


def changed_since(src: psycopg.Connection, done: list[Range]) -> list[Range]:
    """The ranges done by an earlier run whose source rows changed since (read in ``src``'s snapshot)."""
    changed = []
    for r in done:
        now = range_state(src, r.table, ranges.predicate(r))
        if (now.rows, now.checksum or "0") != (r.rows, r.checksum):
            changed.append(r)
    return changed


# The other tables' foreign keys resting on a table's rows: (referencing table, its columns, the referenced
# columns), each a list of column names in the key's order.
POINTING_SQL = """
SELECT DISTINCT format('%%I.%%I', ns.nspname, c.relname),
       array(SELECT attname::text FROM unnest(f.conkey) WITH ORDINALITY k(n, o)
               JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k.n ORDER BY k.o),
       array(SELECT attname::text FROM unnest(f.confkey) WITH ORDINALITY k(n, o)
               JOIN pg_attribute a ON a.attrelid = f.confrelid AND a.attnum = k.n ORDER BY k.o)
  FROM pg_constraint f JOIN pg_class c ON c.oid = f.conrelid JOIN pg_namespace ns ON ns.oid = c.relnamespace
 WHERE f.contype = 'f' AND f.confrelid = %s::regclass AND f.conrelid <> f.confrelid
 ORDER BY 1
"""


def delete_rows(dst: psycopg.Connection, table: str, where: sql.Composable | None = None) -> None:
    """Delete the rows of ``table`` (aliased ``t``) that ``where`` selects (all: None), in the caller's transaction:
    ``TRUNCATE`` for all of them when no other table's foreign key rests on it, else ``DELETE`` (the
    tables referencing it load after it: their rows point at none of these). Refused, naming both
    tables, when another table's rows point at them (a cascade would change them)."""
    target = sql.SQL(table)
    rows = where if where is not None else sql.SQL("true")
    keys = dst.execute(POINTING_SQL, (table,)).fetchall()
    pointing: list[str] = []
    for child, columns, referenced in keys:
        pairs = sql.SQL(" AND ").join(
            sql.SQL("t.{} = c.{}").format(sql.Identifier(r), sql.Identifier(c))
            for c, r in zip(columns, referenced, strict=True)
        )
        query = sql.SQL("SELECT EXISTS (SELECT FROM {} c WHERE EXISTS (SELECT FROM ONLY {} t WHERE {} AND {}))")
        if dst.execute(query.format(sql.SQL(child), target, pairs, rows)).fetchone()[0]:  # type: ignore[index]
            pointing.append(child)
    if pointing:  # every such table at once: one run to learn them all
        named = ", ".join(pointing)
        raise CopyError(
            f"table {table}: rows an earlier run copied must be copied again (the source changed since), but rows "
            f"of {named} in the target point at them (a foreign key rests on {table}): delete those rows in the "
            f"target (they are copied after {table}), then run again"
        )
    if keys or where is not None:
        dst.execute(sql.SQL("DELETE FROM ONLY {} t WHERE {}").format(target, rows))
    else:
        dst.execute(sql.SQL("TRUNCATE ONLY {}").format(target))


def emptied(dst: psycopg.Connection, table: str, cause: str) -> int:
    """Empty a table an earlier run copied part of (in the caller's transaction): the rows its journal
    counts as copied. Refused when others wrote rows into it (their rows would go too); nothing to
    delete once they deleted them."""
    recorded, _ = ranges.total([r for r in journal.ranges(dst, table) if r.done])
    there = row_count(dst, table)  # a count: no checksum of rows about to be deleted
    if there and there != recorded:
        raise CopyError(
            f"table {table}: {there:,} rows in the target, {recorded:,} copied by an earlier run, and {cause}: the "
            "others were written there by someone else; delete the table's rows in the target, then run again"
        )
    delete_rows(dst, table)
    return recorded


def restart(dst: psycopg.Connection, table: str, changed: list[Range]) -> None:
    """Copy again the ranges whose source rows changed since an earlier run: a key range's rows are
    deleted and it is marked not done; with page ranges, the whole table (only the copy's rows are in
    it: the journal's row count says so) is emptied and every range marked not done."""
    with dst.transaction():
        dst.execute(waits.SET_LOCK_TIMEOUT)
        if all(r.kind == "key" for r in changed):
            for r in changed:
                delete_rows(dst, table, ranges.predicate(r))
                journal.range_undone(dst, r)
            return
        emptied(dst, table, "the source changed since")
        for r in journal.ranges(dst, table):
            journal.range_undone(dst, r)


def abandon(dst: psycopg.Connection, tables: set[str], log: Callable[[str], None]) -> None:
    """Tables an earlier run left half-copied that the source no longer has: their rows (the copy's
    only: the journal's row count says so) deleted, their ranges forgotten; a table dropped from the
    target meanwhile, its ranges and what was set aside of it forgotten."""
    for table in sorted(tables):
        with dst.transaction():
            dst.execute(waits.SET_LOCK_TIMEOUT)
            if dst.execute("SELECT to_regclass(%s) IS NULL", (table,)).fetchone()[0]:  # type: ignore[index]
                journal.forget_ranges(dst, table)
                journal.forget_aside(dst, table)
                continue
            recorded = emptied(dst, table, "the source has no such table now")
            journal.forget_ranges(dst, table)
        log(f"{table}: the source has no such table now: the {recorded:,} row(s) an earlier run copied deleted")


def finish(worker: Worker, table: str, log: Callable[[str], None]) -> None:
    """The whole table against its ranges: equal, its ranges forgotten and both sides' states kept."""
    done = journal.ranges(worker.dst, table)
    rows, checksum = ranges.total(done)
    got = table_state(worker.dst, table)
    if not all(r.done for r in done):
        raise CopyError(f"table {table}: {sum(not r.done for r in done)} range(s) not copied yet: run again")
    if (got.rows, got.checksum) != (rows, checksum):
        # every range verified as it was copied: the difference is rows written by someone else. The
        # table is then an ordinary one that differs (its ranges forgotten), refused by every rerun's
        # plan until the rows go or COPY_CONFLICT=replace reloads it: never copied on for ever
        with worker.dst.transaction():
            journal.forget_ranges(worker.dst, table)
        raise TableRefused(finish_refusal(table, got.rows, rows))
    with worker.dst.transaction():
        journal.forget_ranges(worker.dst, table)
    worker.src_catalog.remember(TableState(table, rows, checksum))
    worker.dst_catalog.remember(got)
    log(f"{table}: copied {rows:,} rows in {len(done)} ranges, verified")


def committed(dst: psycopg.Connection, table: str) -> int:
    """The rows of ``table`` the journal counts as copied and verified by its ranges (0 without any)."""
    return ranges.total([r for r in journal.ranges(dst, table) if r.done])[0] if journal.exists(dst) else 0


def written_meanwhile(dst: psycopg.Connection, group: tuple[str, ...], exc: BaseException) -> TableRefused | None:
    """A unique violation copying into a table the copy fills from empty, which has rows the copy did
    not write (the application's, committed during the copy): that table refused, its verified ranges
    kept (the other tables go on). None when the source's own rows break the target's key (its schema)."""
    if getattr(exc, "sqlstate", None) != "23505" or len(group) != 1:
        return None
    table = group[0]
    try:
        with dst.transaction():  # both counts of one moment: another range of it may commit meanwhile
            dst.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            kept = committed(dst, table)
            if row_count(dst, table) <= kept:
                return None
    except psycopg.Error:  # the target is gone: the fault is said as it is
        return None
    return TableRefused(
        f"table {table}: a row written in the target during the copy (not by it) has the key of a source row "
        f"({cause(exc)}): {kept:,} source row(s) copied and verified stay committed, the rest is not copied; delete "
        "that row in the target and run again (the copy goes on where it stopped), or set COPY_CONFLICT=replace to "
        "reload the table (a target backup is taken first)"
    )


def written_over(dst: psycopg.Connection, tables: set[str]) -> set[str]:
    """The half-copied ``tables`` with rows the copy did not write (the application's): their ranges
    forgotten, so that each is an ordinary table that differs (``COPY_CONFLICT=replace`` reloads it)."""
    found = {t for t in tables if row_count(dst, t) != committed(dst, t)}
    for table in sorted(found):
        with dst.transaction():
            journal.forget_ranges(dst, table)
    return found


def resuming(dst: psycopg.Connection) -> set[str]:
    """The tables an earlier run copied part of (their ranges in the journal, under their names of now):
    to be finished."""
    journal.follow(dst)
    return {r.table for r in journal.ranges(dst)} if journal.exists(dst) else set()


def prepare(
    src: psycopg.Connection,
    dst: psycopg.Connection,
    tables: list[str],
    split_bytes: int,
    log: Callable[[str], None],
) -> dict[str, list[Range]]:
    """Before the load of ``tables`` (copied into empty): each big one's indexes, foreign keys and
    triggers set aside, then its primary key and unique constraints and indexes (those no foreign key
    rests on once the big tables referencing it have set theirs aside, in the same transaction:
    :func:`tasks.data.journal.set_aside_keys`), and its ranges recorded: one transaction a table, the
    journal first, so a table being loaded has everything set aside already. A table an earlier run
    left half-copied keeps its ranges (those whose source rows changed are redone). Returns the
    ranges of the tables copied in ranges. Nothing when the journal cannot be made."""
    if not tables or not journal.ready(dst):
        return {}
    split: dict[str, list[Range]] = {}
    todo: dict[str, tuple[list[Range], bool]] = {}  # what is set aside: (ranges to record, keys too)
    for table in tables:
        recorded = journal.ranges(dst, table)
        if recorded:
            changed = changed_since(src, [r for r in recorded if r.done])
            if changed:
                log(f"{table}: {len(changed)} range(s) copied by an earlier run changed in the source since: again")
                restart(dst, table, changed)
                recorded = journal.ranges(dst, table)
            done = sum(r.done for r in recorded)
            if done:
                log(f"{table}: {done} of {len(recorded)} range(s) copied and verified by an earlier run: kept")
            split[table] = recorded
            todo[table] = ([], True)
            continue
        size = src.execute(ranges.TABLE_SIZE_SQL, (table,)).fetchone()[0]  # type: ignore[index]
        planned = ranges.plan(src, table, size, split_bytes)
        # the indexes' build is what setting aside saves: the size with them (and TOAST); a NOT VALID
        # key or check is added after the rows whatever the size: the source's rows may break it
        total = src.execute(SIZE_SQL, (table,)).fetchone()[0]  # type: ignore[index]
        big = bool(planned) or total >= BULK_FROM_BYTES
        if big or dst.execute(journal.NOT_VALID_SQL, (table,)).fetchone()[0]:  # type: ignore[index]
            todo[table] = (planned, big)
        if planned:
            split[table] = planned
    keyed = [t for t, (_, big) in todo.items() if big]
    for table, (planned, big) in todo.items():

        def record(table: str = table, planned: list[Range] = planned, big: bool = big) -> None:
            journal.set_aside(dst, table)
            if big:
                for other in journal.referencing(dst, table, keyed):
                    journal.set_aside(dst, other)
                journal.set_aside_keys(dst, table)
            journal.plan_ranges(dst, planned)

        in_journal(dst, table, record, log)
    return split


def in_journal(dst: psycopg.Connection, table: str, change: Callable[[], object], log: Callable[[str], None]) -> None:
    """``change`` (what sets aside ``table``'s objects, the journal first) in one transaction, its lock
    wait bounded and retried."""

    def attempt() -> None:
        with dst.transaction():
            dst.execute(waits.SET_LOCK_TIMEOUT)
            change()

    waits.retrying(
        attempt, f"setting aside the indexes and keys of {table}", lambda: waits.blocking_sessions(dst, [table]), log
    )


def finish_refusal(table: str, there: int, copied: int) -> str:
    """Pure: the line for a table copied in ranges whose rows, verified range by range, no longer add up:
    the application wrote rows there, or deleted (or changed) some the copy had verified."""
    if there > copied:
        what = "rows were written into the target during its copy, not by the copy; delete them, or set"
    elif there < copied:
        what = (
            f"{copied - there:,} row(s) the copy had verified are missing: deleted in the target (by the application, "
            "or by hand) during or after an interrupted copy; set"
        )
    else:
        what = "rows the copy had verified were changed in the target, not by the copy; set"
    return (
        f"table {table}: the target has {there:,} rows, the source {copied:,} (with other checksums): {what} "
        "COPY_CONFLICT=replace to reload the table (a target backup is taken first)"
    )
