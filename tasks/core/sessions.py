"""
One database session per service for the run's facts (issue 21).

Every fact of ``source`` or ``target`` is read over one psycopg connection (``service=NAME`` from
the run's private service file: no secret here), opened on first use and kept for the run, instead
of a psql process per read (~40–70 ms each, mostly TLS and SCRAM). Each read runs in its own
``BEGIN READ ONLY … ROLLBACK``: a fact can change nothing, and what it SETs (the checksums' pinned
formats) does not reach the next one. Rows come back as psql's ``-A -t`` would print them: text,
``''`` for NULL.

While a step changes something the sessions are closed (:func:`close_all`), so the work has every
connection slot the role has; the next read opens a new one. Answers are cached for the run, keyed
by the fact and its SQL, and forgotten:

* after any change this run makes (:func:`forget`, called by every step that runs work), since it
  may have changed what was read (a step that only inserts rows, the seed's, keeps what depends
  on the schema alone: the catalog the schema check read is the validation report's too);
* between the plan and the execution: without ``-y`` pyinfra plans, then waits at its prompt for as
  long as the user likes, and anyone may change the database meanwhile, so what decides a change
  is read once more after the prompt (once, from the same session). With ``-y`` there is no plan.

The session sets its own limits (:func:`_session_settings`): no role-level ``statement_timeout`` or
``idle_in_transaction_session_timeout`` cancels the tool's reads (they are the application's guards),
and a read waits for a lock at most :data:`tasks.core.waits.LOCK_TIMEOUT`, is tried again a few times
with a line naming the session in the way, then fails naming it (an application's open ``ALTER TABLE``
never holds the tool, nor the application's statements queued behind the tool's, without limit).

A session whose connection was lost (a restarted server, a terminated backend) is opened again
once; a database that cannot be reached is never cached, so the state that reads it next says so.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any

Rows = list[list[str]]


def _session_settings() -> str:
    from tasks.core import waits

    return (
        f"SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0; "
        f"SET lock_timeout = '{waits.LOCK_TIMEOUT}'"
    )


def _log(line: str) -> None:
    from pyinfra import logger

    logger.warning(f"pgconverge: {line}")


class Session:
    """The connection to one service and the answers read over it."""

    def __init__(self, service: str):
        self.service = service
        self.conn: Any = None  # a psycopg connection once made (psycopg loads on first use)
        self.answers: dict[Hashable, tuple[object, bool]] = {}  # key -> (answer, kept when only rows change)

    def connection(self):
        """The open connection (made on first use, again after it was lost)."""
        import psycopg  # loaded only when a database is read

        if self.conn is None or self.conn.closed or self.conn.broken:
            self.conn = psycopg.connect(f"service={self.service}", autocommit=True)
            self.conn.execute(_session_settings())
        return self.conn

    def rows(self, sql: str) -> Rows:
        """Every row of every statement of ``sql``, in one round trip and one read-only transaction
        (one snapshot) rolled back at its end. A connection found lost is opened again and the read tried once more.
        A lock wait that runs out is tried again (:func:`tasks.core.waits.retrying`), naming who holds it."""
        from tasks.core import waits

        def blockers() -> str:
            return waits.blocking_sessions(self.connection())

        return waits.retrying(lambda: self._rows_reconnecting(sql), f"reading {self.service}'s catalog", blockers, _log)

    def _rows_reconnecting(self, sql: str) -> Rows:
        import psycopg

        reused = self.conn is not None and not self.conn.closed and not self.conn.broken
        try:
            return self._rows(sql)
        except psycopg.OperationalError:
            if not reused or not (self.conn is None or self.conn.closed or self.conn.broken):
                raise  # not a session that died while idle: the state says what went wrong
            self.conn = None
            return self._rows(sql)

    def _rows(self, sql: str) -> Rows:
        from psycopg import ClientCursor  # the simple query protocol: several statements, text values

        conn = self.connection()
        cursor = ClientCursor(conn)
        try:
            # one snapshot for every statement (READ COMMITTED takes one per statement: a deploy that
            # committed between two of them showed a table but no history, and its neighbour refused)
            cursor.execute(f"BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;\n{sql}\n;\nROLLBACK")
            rows: Rows = []
            while True:
                result = cursor.pgresult
                if result is not None and result.nfields:
                    rows.extend(
                        [_text(result.get_value(i, j)) for j in range(result.nfields)] for i in range(result.ntuples)
                    )
                if not cursor.nextset():
                    return rows
        finally:
            cursor.close()
            # an error: the transaction is still open
            if not conn.closed and not conn.broken and conn.info.transaction_status != 0:
                conn.execute("ROLLBACK")

    def cached(self, key: Hashable, read: Callable[[Session], object], schema_only: bool = False):
        """``read(self)``, once per key until :func:`forget`; an exception is not cached.
        ``schema_only``: the answer depends on no row, so a change of rows only keeps it."""
        if key not in self.answers:
            self.answers[key] = (read(self), schema_only)
        return self.answers[key][0]

    def close(self) -> None:
        """Close the connection; the answers stay (:func:`forget` drops them)."""
        if self.conn is not None and not self.conn.closed:
            self.conn.close()
        self.conn = None


def _text(value: bytes | None) -> str:
    return "" if value is None else value.decode()


_sessions: dict[str, Session] = {}


def session(service: str) -> Session:
    """The run's session to ``service`` (``source``, ``target``)."""
    if service not in _sessions:
        _sessions[service] = Session(service)
    return _sessions[service]


def _chosen(services: Iterable[str] | None) -> list[Session]:
    """The sessions of ``services`` (one environment's), or every session."""
    return [one for name, one in _sessions.items() if services is None or name in services]


def forget(rows_only: bool = False, services: Iterable[str] | None = None) -> None:
    """Something may have changed: every cached answer is read again when next asked for (with
    ``rows_only``, the change touched rows and nothing else: what depends on the schema alone stays).
    ``services``: only these sessions (one environment's: the others' targets did not change)."""
    for one in _chosen(services):
        one.answers = {key: kept for key, kept in one.answers.items() if rows_only and kept[1]}


def close_all(services: Iterable[str] | None = None) -> None:
    """Close every session's connection (before work that needs the slots or the database to itself);
    ``services``: only these (one environment's, while another environment's greenlet may be reading)."""
    for one in _chosen(services):
        one.close()
