"""
An interrupted run (Ctrl-C: SIGINT; a CI cancel: SIGTERM) ends like any failure: one
``pgconverge:`` line naming the state it was in, that state's summary row "failed", the summary,
and exit status 128 + the signal (130, 143). pyinfra 3.10's own SIGINT handler
(``pyinfra_cli.main``) prints "Exiting upon user request!" and exits 0; :func:`install` replaces it
from deploy.py. The children (psql, pg_dump and the shells around them) are stopped first, and the
statement a connection of this process is running (:func:`working`: the migration engine sends a
whole file as one message, which the server would otherwise finish and commit without us) is
cancelled, so nothing they were doing commits: their open transaction is rolled back by the server.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from tasks.core import summary

_working: list = []  # psycopg connections running a statement that must not finish without us


@contextmanager
def working(conn) -> Iterator[None]:
    """While inside, an interrupt cancels what ``conn`` runs before the process leaves."""
    _working.append(conn)
    try:
        yield
    finally:
        _working.remove(conn)


def message(signal_name: str, doing: str) -> str:
    return (
        f"interrupted by {signal_name} while {doing}: what was done is kept, "
        f"what it was doing was rolled back; run again"
    )


def interrupted_state(rows: dict, absent: dict, planned: list[str], running: str | None) -> str | None:
    """The state the run was in: the op being run, else the first planned state without a row."""
    if running:
        return running
    return next((name for name in planned if name not in rows and name not in absent), None)


def descendants(pid: int, proc: Path = Path("/proc")) -> list[int]:
    """Every process below ``pid`` (children first found, then theirs), read from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(parent, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in parents.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def stop_children() -> None:
    """No second signal while leaving; every child process of the run (psql, pg_dump, the Heroku CLI) stopped."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for child in descendants(os.getpid()):
        with suppress(OSError):
            os.kill(child, signal.SIGTERM)


def install(running: Callable[[], str | None]) -> None:
    """Handle SIGINT and SIGTERM: ``running()`` names the op being run (None between ops)."""

    def handle(signum, frame) -> None:
        stop_children()
        for conn in list(_working):  # noqa: PERF101 - a snapshot: cancelling may change the set
            with suppress(Exception):  # leaving anyway: the server sees the connection close
                conn.cancel()  # libpq's own blocking cancel (cancel_safe needs gevent's loop, busy here)
        for name, one in (summary.every() or {None: summary.current()}).items():  # each environment's
            doing = interrupted_state(one.rows, one.absent, one.planned, running()) or "planning"
            line = message(signal.Signals(signum).name, doing)
            where = "" if name is None else f"environment {name}: "
            print(f"pgconverge: {where}{line}", file=sys.stderr, flush=True)
            summary.interrupted(doing, line, one)
        atexit._run_exitfuncs()  # the summary (and every other exit handler), then leave at once
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(128 + signum)

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def install_early() -> None:
    """Before the deploy file installs :func:`install` (settings, files, inventory, pyinfra connecting): an
    interrupt stops the children, says so in one line and exits 130 / 143 (pyinfra's own handler would print
    "Exiting upon user request!" and exit 0, and SIGTERM would leave without a line). Nothing has changed yet."""

    def handle(signum, frame) -> None:
        stop_children()
        print(
            f"pgconverge: interrupted by {signal.Signals(signum).name} while reading the settings and files: "
            "nothing was changed; run again",
            file=sys.stderr,
            flush=True,
        )
        sys.stdout.flush()
        os._exit(128 + signum)

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
