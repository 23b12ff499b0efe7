"""
Facts about a PostgreSQL database, read over the run's session to a service (``source`` or
``target``, never a URL or a password) with :func:`read`, cached for the run until something
changes (:mod:`tasks.core.fact`). A connection or SQL error raises :class:`Unreadable`, so the
operation can stop with a clear message.
"""

from __future__ import annotations

import json

from tasks.core.fact import DatabaseFact, Unreadable, read  # noqa: F401  (the operations read facts through here)
from tasks.migrations import history
from tasks.migrations.plan import TargetHistory
from tasks.schema import catalog


class ServerInfo(DatabaseFact):
    """
    Server version, connection limit and TLS state of the session.

    .. code:: python

        {"version_num": 150018, "version": "15.18", "max_connections": 20, "ssl": True,
         "user": "app", "superuser": False, "database": "app", "connections_used": 3,
         "connection_limit": 20}  # the role's limit when lower than max_connections
    """

    sql = """
    SELECT current_setting('server_version_num'), current_setting('server_version'),
           current_setting('max_connections'),
           coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false),
           current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), current_database(),
           (SELECT count(*) FROM pg_stat_activity WHERE datname IS NOT NULL),
           (SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user)
    """

    def parse(self, rows):
        num, version, max_conn, ssl, user, superuser, database, used, role_limit = rows[0]
        limits = [int(max_conn)] + ([int(role_limit)] if role_limit and int(role_limit) >= 0 else [])
        return {
            "version_num": int(num),
            "version": version.split()[0],
            "max_connections": int(max_conn),
            "ssl": ssl == "t",
            "user": user,
            "superuser": superuser == "t",
            "database": database,
            "connections_used": int(used),
            "connection_limit": min(limits),
        }


class MigrationHistory(DatabaseFact):
    """The target's ``schema_migrations`` rows and its count of user tables, as a TargetHistory."""

    sql = f"SELECT 'exists', ({history.EXISTS_SQL})::text, '', '';\n{history.HISTORY_SQL}"

    def query(self, session, sql) -> TargetHistory:
        rows = session.rows(sql)
        exists = any(r[0] == "exists" and r[1] == "true" for r in rows)
        if exists:  # a second statement list: the rows of a table that may not exist cannot be in the first
            rows += session.rows(history.ROWS_SQL)
        return history.history_from_rows([tuple(r) for r in rows if r[0] != "exists"], exists)


class SchemaPrivileges(DatabaseFact):
    """
    The role's CREATE privileges (the SQL, from ``tasks.migrations.privileges.privileges_sql``,
    names the schemas, and is passed as ``sql``).

    .. code:: python

        {"user": "app", "database": "app", "database_create": True, "default_schema": "public",
         "schemas": {"public": "f", "audit": "missing"}}
    """

    def parse(self, rows):
        from tasks.migrations.privileges import parse_privileges

        return parse_privileges(rows)


class CatalogSnapshot(DatabaseFact):
    """The schema as :mod:`tasks.schema.catalog` sees it (the dict of ``catalog.sql``)."""

    sql = catalog.SNAPSHOT_SQL
    schema_only = True

    def parse(self, rows):
        return json.loads("\t".join(rows[0]))


class CopySetAside(DatabaseFact):
    """
    What an interrupted data copy set aside and has still to put back (its journal,
    :mod:`tasks.data.journal`), as the schema check names them; empty without a journal.

    .. code:: python

        frozenset({"index:public.messages_room_idx", "constraint:messages.messages_user_id_fkey"})
    """

    # a foreign key the copy added NOT VALID is named as it is now (a migration may have renamed it)
    current = (
        "(SELECT n.nspname || ''.'' || t.relname || ''.'' || k.conname FROM pg_constraint k JOIN pg_class t "
        "ON t.oid = k.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace WHERE k.oid = j.con AND j.kind = ''fkey'')"
    )
    sql = (
        "SELECT CASE WHEN to_regclass('pgconverge.copy_set_aside') IS NOT NULL THEN (xpath('/row/n/text()', "
        f"query_to_xml('SELECT string_agg(j.kind || '':'' || coalesce({current}, j.catalog_name), chr(10)) AS n "
        "FROM pgconverge.copy_set_aside j', false, true, '')))[1]::text END"
    )

    def parse(self, rows):
        text = rows[0][0] if rows and rows[0] and rows[0][0] else ""
        return catalog.set_aside_names(text.split("\n"))


class RowCounts(DatabaseFact):
    """Exact row count of every user table, ``{"public.users": 1, ...}`` (schema_migrations left out)."""

    # One JSON array per row: a tab or line break in a name stays inside its escaped string.
    sql = (
        "SELECT json_build_array(format('%s.%s', n.nspname, c.relname), (xpath('/row/n/text()', query_to_xml("
        "format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text)"
        + history.USER_TABLES
    )

    def parse(self, rows):
        pairs = [json.loads("\t".join(row)) for row in rows]
        return {table: int(count) for table, count in pairs}


class Fingerprint(DatabaseFact):
    """
    What changes whenever the database's schema or data changes (for "is the last backup current?").

    Any INSERT, UPDATE, DELETE, TRUNCATE or DDL takes a transaction id, so the cluster's next xid
    moves; relfilenodes catch rewrites, sequence values catch ``nextval`` alone. Conservative: a
    write to another database of the same cluster also counts.

    .. code:: python

        {"fingerprint": "9f2c…", "version_num": 150018, "database": "whynot", "tables": 4}
    """

    sql = (
        "SELECT current_setting('server_version_num'), current_database(), "
        "pg_snapshot_xmax(pg_current_snapshot())::text, "
        "(SELECT count(*) " + history.USER_TABLES + "), "
        "(SELECT coalesce(string_agg(format('%s:%s', c.oid, c.relfilenode), ',' ORDER BY c.oid), '') "
        + history.USER_TABLES
        + "), "
        "(SELECT coalesce(string_agg(format('%s.%s:%s', schemaname, sequencename, last_value), ',' ORDER BY 1), '') "
        "FROM pg_sequences)"
    )

    def parse(self, rows):
        import hashlib

        version, database, xmax, tables, files, sequences = rows[0]
        digest = hashlib.sha256(f"{database}\n{xmax}\n{files}\n{sequences}".encode()).hexdigest()
        return {"fingerprint": digest, "version_num": int(version), "database": database, "tables": int(tables)}


class CopyState(DatabaseFact):
    """
    One side of the data copy (:mod:`tasks.data.sides`; the script is passed as ``sql``): every table
    that holds rows with its count (and checksum when asked), populated materialized views,
    sequences and large objects. An empty database gives an empty :class:`sides.Side`, not None.

    .. code:: python

        Side(tables={"public.users": Relation("public.users", "", 51, "1234…")}, views={},
             sequences={"public.users_id_seq": 51}, large_objects=(0, ""))
    """

    def query(self, session, sql):
        from tasks.data import sides

        return sides.parse(sides.read(session.rows, sql))
