"""
Reading a database's migration history: the SQL (shared by the engine through psycopg and by the
pyinfra fact through psql) and the parsing of its rows. Pure; no database driver imported.
"""

from __future__ import annotations

import json

from tasks.migrations.plan import AppliedRow, TargetHistory

# The application's tables: c = pg_class, n = pg_namespace; system, Heroku and tracking tables left out.
USER_TABLES = """
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_heroku', 'heroku_ext')
   AND n.nspname NOT LIKE 'pg\\_%'
   AND NOT (n.nspname = 'public' AND c.relname = 'schema_migrations')
"""
# Four text columns per row, so psql and psycopg output parse the same way.
# ... with the first TABLE_NAMES_SHOWN of their names, as a JSON list (no tab or newline to split on).
TABLE_NAMES_SHOWN = 20
HISTORY_SQL = (
    "SELECT 'tables', count(*)::text, coalesce(array_to_json((array_agg(n.nspname || '.' || c.relname "
    f"ORDER BY n.nspname, c.relname))[1:{TABLE_NAMES_SHOWN}])::text, '[]'), ''" + USER_TABLES
)
# The other user objects (views, materialized views, sequences not owned by a column, foreign
# tables, functions, types), "<kind> schema.name": a target holding only these is not empty either.
_USER_SCHEMA = ("n.nspname NOT IN ('pg_catalog', 'information_schema', '_heroku', 'heroku_ext') "
                "AND n.nspname NOT LIKE 'pg\\_%' AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.objid = o.oid "
                "AND e.deptype = 'e')")
USER_OBJECTS = (
    "SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' "
    "ELSE 'foreign table' END AS kind, n.nspname, c.relname AS name, c.oid "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v', 'm', 'S', 'f') "
    "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid "
    "AND d.deptype IN ('a', 'i') AND d.refclassid = 'pg_class'::regclass) "
    "UNION ALL SELECT 'function', n.nspname, p.proname, p.oid "
    "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
    "UNION ALL SELECT 'type', n.nspname, t.typname, t.oid "
    "FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typtype IN ('c', 'd', 'e', 'r', 'm') "
    "AND (t.typtype <> 'c' OR (SELECT r.relkind FROM pg_class r WHERE r.oid = t.typrelid) = 'c')"
)
OBJECTS_SQL = (
    "SELECT 'objects', count(*)::text, coalesce(array_to_json((array_agg(o.kind || ' ' || o.nspname || '.' || o.name "
    f"ORDER BY o.nspname, o.name, o.kind))[1:{TABLE_NAMES_SHOWN}])::text, '[]'), '' FROM ({USER_OBJECTS}) o "
    "JOIN pg_namespace n ON n.nspname = o.nspname WHERE " + _USER_SCHEMA
)
HISTORY_SQL = HISTORY_SQL + " UNION ALL " + OBJECTS_SQL
ROWS_SQL = "SELECT 'row', version::text, name, checksum || ' ' || kind FROM public.schema_migrations ORDER BY version"
# Every table in the database's own schemas, the tracking table included: 0 = empty.
ALL_TABLES_SQL = (
    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') "
    "AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_heroku', 'heroku_ext') AND n.nspname NOT LIKE 'pg\\_%'"
)
EXISTS_SQL = "SELECT to_regclass('public.schema_migrations') IS NOT NULL"


def history_from_rows(rows: list[tuple[str, str, str, str]], table_exists: bool) -> TargetHistory:
    """Turn HISTORY_SQL/ROWS_SQL output (4 text columns) into a :class:`TargetHistory`."""
    user_tables = 0
    names: tuple[str, ...] = ()
    objects, object_names = 0, ()
    applied = []
    for tag, a, b, c in rows:
        if tag == "tables":
            user_tables = int(a)
            names = tuple(json.loads(b or "[]"))
        elif tag == "objects":
            objects = int(a)
            object_names = tuple(json.loads(b or "[]"))
        elif tag == "row":
            checksum, _, kind = c.partition(" ")
            applied.append(AppliedRow(int(a), b, checksum, kind or "applied"))
    return TargetHistory(table_exists=table_exists, user_tables=user_tables, rows=tuple(applied), table_names=names,
                         other_objects=objects, object_names=object_names)
