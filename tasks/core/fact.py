"""
Facts about a PostgreSQL database, read over the run's one session per service
(:mod:`tasks.core.sessions`).

A fact is a class in the shape of pyinfra's facts: its ``sql``, and ``parse(rows)`` turning the
rows (text, as psql ``-A -t`` prints them) into a value; a fact that needs more than one statement
list overrides ``query``. The operations read them with :func:`read`, by service name (``source``
or ``target``), never a URL or a password. A connection or SQL error raises :class:`Unreadable`
(a typed failure: the fact, the service and the server's first line), so the operation can stop with
a clear message, or go on where an unreadable fact is no reason to stop. Why not pyinfra's
``host.get_fact``: in 3.10 it runs a new shell and psql process for
every read and caches nothing, which made a fact's connection set-up most of a no-op run's cost.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from tasks.core.errors import ActionableError
from tasks.core.sessions import Rows, Session, session


class Unreadable(ActionableError):
    """A fact that could not be read (the connection or the SQL failed): ``error`` is the server's
    first line, ``lines`` every line; ``str()`` is the first line. Never cached: the next read tries again."""

    def __init__(self, fact: str, service: str, lines: list[str]):
        super().__init__(lines[0])
        self.fact, self.service, self.lines = fact, service, lines

    @property
    def error(self) -> str:
        return self.lines[0]

    @classmethod
    def from_exception(cls, exc: BaseException, fact: str = "fact", service: str = "") -> Unreadable:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
        return cls(fact, service, lines)


class DatabaseFact:
    """Base: ``sql`` run over the service's session; ``parse`` gets its rows."""

    sql = "SELECT 1"
    schema_only = False  # True: the answer depends on the schema alone, no row (kept when only rows change)

    def query(self, session: Session, sql: str):
        return self.parse(session.rows(sql))

    def parse(self, rows: Rows):
        return rows


def read(fact: type[DatabaseFact], service: str, sql: str | None = None) -> Any:
    """
    The value of ``fact`` on ``service`` (``sql`` replaces the fact's own), cached for the run
    until something changes (see :mod:`tasks.core.sessions`). A connection or SQL error raises
    :class:`Unreadable` (and is not cached).
    """
    text = fact.sql if sql is None else sql
    try:
        return remember(service, (fact, text), lambda: fact().query(session(service), text), fact.schema_only)
    except Exception as exc:  # only the driver's errors become data
        if not type(exc).__module__.startswith("psycopg"):
            raise
        raise Unreadable.from_exception(exc, fact.__name__, service) from None


def remember(service: str, key: Hashable, compute: Callable[[], object], schema_only: bool = False):
    """``compute()``, cached with the facts of ``service`` under ``key``: forgotten after a change
    (``schema_only``: not after a change of rows only), and read once more after pyinfra's plan (the
    key holds the phase: the database may change while the prompt waits)."""
    from pyinfra.context import ctx_state

    executing = bool(ctx_state.get().is_executing) if ctx_state.isset() else True
    return session(service).cached((executing, key), lambda one: compute(), schema_only)
