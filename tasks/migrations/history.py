"""
Reading a database's migration history: the SQL (shared by the engine through psycopg and by the
pyinfra fact through psql) and the parsing of its rows. Pure; no database driver imported.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from tasks.core.errors import ActionableError
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
_USER_SCHEMA = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema', '_heroku', 'heroku_ext') "
    "AND n.nspname NOT LIKE 'pg\\_%' AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.objid = o.oid "
    "AND e.deptype = 'e')"
)
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
# Anything else a fresh database does not have (oid from FirstNormalObjectId up, in every catalog pg_dump
# dumps from; large objects whatever their oid; a changed comment on schema public), the first few
# described: 0 here, no table and no other object is a target that a backup would hold nothing of
# (tasks/backups/empty.py). Other sessions' temporary schemas are left out; their temporary objects
# are not (a temporary table while the backup is decided means a real pg_dump). At most
# LEFTOVERS_SHOWN + 1 rows are read, so a large catalog costs no more than a small one.
LEFTOVERS_SHOWN = 5
_NOT_TEMP = "{0} NOT LIKE 'pg\\_temp\\_%' AND {0} NOT LIKE 'pg\\_toast\\_temp\\_%'"
_LEFTOVER_CATALOGS = (
    "pg_proc",
    "pg_operator",
    "pg_opclass",
    "pg_opfamily",
    "pg_am",
    "pg_collation",
    "pg_conversion",
    "pg_cast",
    "pg_ts_config",
    "pg_ts_dict",
    "pg_ts_parser",
    "pg_ts_template",
    "pg_extension",
    "pg_language",
    "pg_foreign_data_wrapper",
    "pg_foreign_server",
    "pg_event_trigger",
    "pg_publication",
    "pg_default_acl",
    "pg_statistic_ext",
    "pg_transform",
    "pg_trigger",
    "pg_policy",
    "pg_rewrite",
    "pg_constraint",
    "pg_attrdef",
)
LEFTOVERS_SQL = (
    "SELECT 'leftovers', count(*)::text, "
    f"coalesce(array_to_json((array_agg(o.what ORDER BY o.what))[1:{LEFTOVERS_SHOWN}])::text, '[]'), '' FROM ("
    "SELECT 'pg_namespace'::regclass, oid FROM pg_namespace WHERE oid >= 16384 AND "
    + _NOT_TEMP.format("nspname")
    + " UNION ALL SELECT 'pg_class'::regclass, oid FROM pg_class WHERE oid >= 16384 AND relpersistence <> 't'"
    " UNION ALL SELECT 'pg_type'::regclass, t.oid FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
    "WHERE t.oid >= 16384 AND "
    + _NOT_TEMP.format("n.nspname")
    + "".join(
        f" UNION ALL SELECT '{name}'::regclass, oid FROM {name} WHERE oid >= 16384" for name in _LEFTOVER_CATALOGS
    )
    + " UNION ALL SELECT 'pg_largeobject'::regclass, oid FROM pg_largeobject_metadata"
    " UNION ALL SELECT 'pg_namespace'::regclass, objoid FROM pg_description WHERE objoid = 'public'::regnamespace "
    "AND classoid = 'pg_namespace'::regclass AND description IS DISTINCT FROM 'standard public schema'"
    f" LIMIT {LEFTOVERS_SHOWN + 1}) f(classid, objid),"
    " LATERAL (SELECT pg_describe_object(f.classid, f.objid, 0)) o(what)"
)
HISTORY_SQL = HISTORY_SQL + " UNION ALL " + OBJECTS_SQL + " UNION ALL " + LEFTOVERS_SQL
# Each row as JSON: a tab or a line break in a name cannot split it, and a table of another shape
# (another tool's schema_migrations) is read too, so it can be named instead of failing the query.
ROWS_SQL = "SELECT 'row', '', to_jsonb(m)::text, '' FROM public.schema_migrations m"
# Every table in the database's own schemas, the tracking table included: 0 = empty.
ALL_TABLES_SQL = (
    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') "
    "AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_heroku', 'heroku_ext') AND n.nspname NOT LIKE 'pg\\_%'"
)
EXISTS_SQL = "SELECT to_regclass('public.schema_migrations') IS NOT NULL"


class HistoryError(ActionableError):
    """The target's schema_migrations is not a history pgconverge can read; the message says what to do."""


CHECKSUM = re.compile(r"[0-9a-f]{64}")
FIX = (
    "rename it if another tool made it (ALTER TABLE public.schema_migrations RENAME TO ...), "
    "or repair the row from the file (version, name, checksum = sha256 of the file)"
)


def applied_row(text: str) -> AppliedRow:
    """One schema_migrations row (ROWS_SQL's JSON); :class:`HistoryError` when it is not well-formed."""
    row = json.loads(text)
    missing = [key for key in ("version", "name", "checksum") if key not in row]
    if missing:
        raise HistoryError(
            f"the target's public.schema_migrations has no column {', '.join(missing)} "
            f"(its columns: {', '.join(row)}): it is not pgconverge's history: {FIX}"
        )
    version, name, checksum, kind = row["version"], row["name"], row["checksum"], row.get("kind") or "applied"
    if not isinstance(version, int) or isinstance(version, bool):
        raise HistoryError(
            f"the target's public.schema_migrations has the version {version!r}, not a whole number: {FIX}"
        )
    if version < 0:
        raise HistoryError(
            f"the target's public.schema_migrations has the negative version {version}: versions count up from 0: {FIX}"
        )
    where = f"the target's public.schema_migrations row for version {version}"
    if not isinstance(name, str) or not isinstance(checksum, str) or not CHECKSUM.fullmatch(checksum):
        raise HistoryError(f"{where} has no sha256 checksum ({str(checksum)[:20]!r}): {FIX}")
    if kind not in ("applied", "baseline"):
        raise HistoryError(f"{where} has the kind {kind!r} (expected applied or baseline): {FIX}")
    return AppliedRow(version, name, checksum, kind, _timestamp(row.get("applied_at")))


def _timestamp(value) -> datetime | None:
    """``applied_at`` as to_jsonb gives it (ISO 8601 with offset), or None."""
    try:
        return datetime.fromisoformat(value).astimezone(UTC) if isinstance(value, str) else None
    except ValueError:
        return None


def history_from_rows(rows: list[tuple[str, str, str, str]], table_exists: bool) -> TargetHistory:
    """Turn HISTORY_SQL/ROWS_SQL output (4 text columns) into a :class:`TargetHistory`."""
    user_tables = 0
    names: tuple[str, ...] = ()
    objects, object_names = 0, ()
    leftovers, leftover_names = None, ()
    applied = []
    for tag, a, b, _ in rows:
        if tag == "tables":
            user_tables = int(a)
            names = tuple(json.loads(b or "[]"))
        elif tag == "objects":
            objects = int(a)
            object_names = tuple(json.loads(b or "[]"))
        elif tag == "leftovers":
            leftovers, leftover_names = int(a), tuple(json.loads(b or "[]"))
        elif tag == "row":
            applied.append(applied_row(b))
    applied.sort(key=lambda row: row.version)
    return TargetHistory(
        table_exists=table_exists,
        user_tables=user_tables,
        rows=tuple(applied),
        table_names=names,
        other_objects=objects,
        object_names=object_names,
        leftovers=leftovers,
        leftover_names=leftover_names,
    )
