"""The target's facts the risk plan reads (read-only, in the facts session: :mod:`tasks.core.fact`)."""

from __future__ import annotations

from tasks.core.fact import DatabaseFact
from tasks.risk import checks, datacheck, names, size


class TableSizes(DatabaseFact):
    """Size, estimated rows, writes and lock holders of the named tables (SQL from :func:`size.sizes_sql`)."""

    def parse(self, rows):
        return size.parse_sizes(rows)


class SearchPathTables(DatabaseFact):
    """The user, and the schemas and tables among those the pending files' search_paths name (SQL from
    :func:`names.catalog_sql`): where their unqualified names resolve."""

    def parse(self, rows):
        return names.parse_catalog(rows)


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


class TableCount(DatabaseFact):
    """How many tables (and views, foreign tables) the target holds outside the system's schemas and the
    copy's own: 0 on a fresh target, where every pending statement touches what the run itself makes."""

    sql = """
    SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgconverge')
       AND n.nspname NOT LIKE 'pg\\_%'
    """

    def parse(self, rows):
        return int(rows[0][0])
