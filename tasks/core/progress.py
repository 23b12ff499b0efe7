"""
Progress of a long statement: while one runs longer than a few seconds, a line every few seconds
saying what it waits on, read by a second connection from ``pg_stat_activity`` (running, or waiting
on a lock and held by whom, and for how long).

One :class:`Watch` per session (the migration engine's), one thread (a greenlet under pyinfra's
gevent) that sleeps in short steps and looks at the time only: marking what the session does
(:meth:`Watch.doing`) is two assignments, so the 250 short files of a run pay nothing, and the
second connection is opened only when a statement has already run :data:`QUIET_S`. A second
connection that cannot be had (a role limited to one) leaves the line without the detail.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Self

QUIET_S = 2.0  # the first line when a statement has run this long
EVERY_S = 5.0  # then one line this often
STEP_S = 0.2

ACTIVITY_SQL = """
SELECT a.state, a.wait_event_type, a.wait_event, pg_blocking_pids(a.pid)
  FROM pg_stat_activity a WHERE a.pid = %s
"""
SESSIONS_SQL = """
SELECT pid, coalesce(nullif(application_name, ''), 'no application_name'), state,
       extract(epoch FROM now() - coalesce(xact_start, backend_start))::bigint
  FROM pg_stat_activity WHERE pid = ANY(%s) ORDER BY pid
"""


def describe(activity: tuple | None, blockers: list[tuple]) -> str:
    """Pure: what the watched statement is doing, from its ``pg_stat_activity`` row and its blockers'."""
    if activity is None:
        return "running"
    state, wait_type, wait_event, _ = activity
    if blockers:
        held = "; ".join(
            f'pid {pid} (application_name "{app}", '
            + (f"{st} for {seconds}s)" if seconds is not None else "state not visible to this role)")
            for pid, app, st, seconds in blockers
        )
        return f"waiting on a lock held by {held}"
    if wait_type == "Lock":
        return f"waiting on a lock ({wait_event})"
    if state == "active" and wait_type:
        return f"running (waiting on {wait_type}: {wait_event})"
    return "running" if state in (None, "active") else state


class Watch:
    """Watch the session ``pid`` of ``conninfo``; lines go to ``log``."""

    def __init__(
        self, conninfo: str, pid: int, log: Callable[[str], None], quiet_s: float = QUIET_S, every_s: float = EVERY_S
    ) -> None:
        self.conninfo, self.pid, self.log = conninfo, pid, log
        self.quiet_s, self.every_s = quiet_s, every_s
        self.what: str | None = None
        self.since = 0.0
        self.stopped = threading.Event()
        self.conn: Any = None
        self.thread = threading.Thread(target=self._loop, daemon=True, name="pgconverge-progress")

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join(5)
        if self.conn is not None:
            with suppress(Exception):  # leaving anyway
                self.conn.close()

    def doing(self, what: str | None) -> None:
        """The session starts ``what`` now (None: it is idle)."""
        self.since = time.monotonic()
        self.what = what

    def _loop(self) -> None:
        said_for, next_at = None, 0.0
        while not self.stopped.wait(STEP_S):
            what, since = self.what, self.since
            if what is None:
                continue
            if said_for != (what, since):
                said_for, next_at = (what, since), since + self.quiet_s
            now = time.monotonic()
            if now < next_at:
                continue
            next_at = now + self.every_s
            detail = self._detail()
            if self.what == what and self.since == since and not self.stopped.is_set():
                self.log(f"{what}: {now - since:.0f}s so far, {detail}")

    def _detail(self) -> str:
        import psycopg

        try:
            if self.conn is None:
                self.conn = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5)
            activity = self.conn.execute(ACTIVITY_SQL, (self.pid,)).fetchone()
            blockers = (
                self.conn.execute(SESSIONS_SQL, (list(activity[3]),)).fetchall() if activity and activity[3] else []
            )
            return describe(activity, blockers)
        except Exception:  # noqa: BLE001 - no second connection (a role limited to one): the line without detail
            self.conn = None
            return "running"


def throughput_line(tables: tuple[int, int], done_bytes: int, total_bytes: int, seconds: float) -> str:
    """Pure: ``copy: 3/12 tables, 410 of 1,024 MB (40%), 52 MB/s``. The total is an estimate (the
    tables' size on disk) and the bytes are those read: once more is read, the total shown is what
    was read, and 100% only once every table is done."""
    total_bytes = max(total_bytes, done_bytes)
    percent = 100 * done_bytes / total_bytes if total_bytes else 0.0
    if tables[0] < tables[1]:
        percent = min(percent, 99.0)
    share = f" ({percent:.0f}%)" if total_bytes else ""
    rate = done_bytes / seconds / 1e6 if seconds > 0 else 0.0
    return (
        f"{tables[0]}/{tables[1]} tables, {done_bytes / 1e6:,.0f} of {total_bytes / 1e6:,.0f} MB{share}, "
        f"{rate:,.1f} MB/s"
    )


class Throughput:
    """A long transfer's progress (tables and bytes done out of the total, and the rate), one line to
    ``log`` at most every ``every_s`` seconds, the first after ``quiet_s``; counted from many threads."""

    def __init__(
        self,
        what: str,
        tables: int,
        total_bytes: int,
        log: Callable[[str], None],
        quiet_s: float = 3.0,
        every_s: float = EVERY_S,
    ) -> None:
        self.what, self.tables, self.total, self.log = what, tables, total_bytes, log
        self.every_s = every_s
        self.started = time.monotonic()
        self.next_at = self.started + quiet_s
        self.done_tables = self.done_bytes = 0
        self.said = False
        self.lock = threading.Lock()

    def moved(self, count: int) -> None:
        """``count`` more bytes are across."""
        with self.lock:
            self.done_bytes += count
        self._maybe_say()

    def table_done(self) -> None:
        with self.lock:
            self.done_tables += 1
        self._maybe_say()

    def finished(self) -> None:
        """The transfer is over: its last line, when an earlier one was said (a short one says none).
        With every table done it is the whole: the total is the tables' size on disk, which their rows'
        stream need not reach."""
        with self.lock:
            if self.done_tables >= self.tables:
                self.done_bytes = max(self.done_bytes, self.total)
        self._maybe_say(last=True)

    def _maybe_say(self, last: bool = False) -> None:
        now = time.monotonic()
        with self.lock:
            if (now < self.next_at and not last) or (last and not self.said):
                return
            self.next_at, self.said = now + self.every_s, True
            line = throughput_line((self.done_tables, self.tables), self.done_bytes, self.total, now - self.started)
        self.log(f"{self.what}: {line}")
