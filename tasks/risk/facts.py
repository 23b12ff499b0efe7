"""The target's facts the risk plan reads (read-only, in the facts session: :mod:`tasks.core.fact`)."""

from __future__ import annotations

from tasks.core.fact import DatabaseFact
from tasks.risk import checks, datacheck, size


class TableSizes(DatabaseFact):
    """Size, estimated rows, writes and lock holders of the named tables (SQL from :func:`size.sizes_sql`)."""

    def parse(self, rows):
        return size.parse_sizes(rows)


class FailingRows(DatabaseFact):
    """(count, example) of the rows a pending statement would fail on (SQL from :func:`datacheck.check_sql`)."""

    def parse(self, rows):
        return datacheck.parse_check(rows)


class BackendPid(DatabaseFact):
    """(pid in libpq's cancel key, ``pg_backend_pid()`` of the server): different behind a pooler."""

    sql = "SELECT pg_backend_pid()"

    def query(self, session, sql):
        rows = session.rows(sql)
        return session.connection().info.backend_pid, int(rows[0][0])


class ConstraintDefinitions(DatabaseFact):
    """``pg_get_constraintdef`` of the constraints pending VALIDATE CONSTRAINTs name (SQL from
    :func:`checks.definitions_sql`)."""

    def parse(self, rows):
        return checks.parse_definitions(rows)
