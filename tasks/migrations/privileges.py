"""
Which privileges the pending migrations need in the target, read from their statements as
PostgreSQL's own parser (pglast) split them, and which of them the target's role lacks. Pure: the
role's privileges come in as data (the ``SchemaPrivileges`` fact).

A statement that creates an object (table, view, materialized view, sequence, function, type,
domain) needs CREATE on its schema: the one it names, or the first schema of the role's
search_path when it names none. ``CREATE SCHEMA`` needs CREATE on the database (objects in a
schema the migrations create are then the role's own). Creating ``public.schema_migrations``
needs CREATE on ``public``. PostgreSQL 15 no longer grants CREATE on ``public`` to every role.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tasks.migrations.files import Migration, MigrationFileError
from tasks.migrations.searchpath import ROLES_OWN, first_named, path_of

DEFAULT = ""  # an unqualified name: the first schema of the role's search_path

# Node -> how to reach the created object's RangeVar (dict with "schemaname") or qualified name list.
RANGEVAR_OF = {
    "CreateStmt": ("relation",),
    "ViewStmt": ("view",),
    "CreateSeqStmt": ("sequence",),
    "CreateTableAsStmt": ("into", "rel"),
}
NAME_LIST_OF = {
    "CreateFunctionStmt": "funcname",
    "CreateEnumStmt": "typeName",
    "CreateDomainStmt": "domainname",
    "CreateRangeStmt": "typeName",
}


@dataclass
class Needs:
    """What the pending files need: CREATE on these schemas (``DEFAULT`` = unqualified), on the database."""

    schemas: dict[str, str] = field(default_factory=dict)  # schema -> first file that needs it
    new_schemas: dict[str, str] = field(default_factory=dict)  # schema -> the file that creates it


def _schema_of_names(names: list) -> str:
    parts = [item.get("String", {}).get("sval", "") for item in names]
    return parts[-2] if len(parts) >= 2 else DEFAULT


def _statement_needs(node: dict) -> tuple[str | None, str | None]:
    """(schema that needs CREATE, schema created) for one parsed statement."""
    ((kind, body),) = node.items()
    if kind == "CreateSchemaStmt":
        return None, body.get("schemaname")
    if kind == "CompositeTypeStmt":
        return body.get("typevar", {}).get("schemaname", DEFAULT), None
    if kind in RANGEVAR_OF:
        target = body
        for key in RANGEVAR_OF[kind]:
            target = target.get(key, {})
        if target.get("relpersistence") == "t":
            return None, None  # a temporary table lives in pg_temp
        return target.get("schemaname", DEFAULT), None
    if kind in NAME_LIST_OF:
        return _schema_of_names(body.get(NAME_LIST_OF[kind], [])), None
    return None, None


def needs_of(pending: list[Migration], history_table_exists: bool) -> Needs:
    """What ``pending`` needs; a file PostgreSQL's parser cannot split is left to the proof, which names its error."""
    needs = Needs()
    if pending and not history_table_exists:
        needs.schemas["public"] = "pgconverge's history table public.schema_migrations"
    for migration in pending:
        try:
            found = migration.needs
        except MigrationFileError:
            continue
        for schema, created in found:
            if created:
                needs.new_schemas.setdefault(created, f"migration {migration.filename}")
            if schema is not None:  # CREATE SCHEMA IF NOT EXISTS of an existing schema is checked too
                needs.schemas.setdefault(schema, f"migration {migration.filename}")
    return needs


def file_needs(statements, in_transaction: bool = True) -> list[tuple[str | None, str | None]]:
    """(schema that needs CREATE, schema created) of each statement of one file that needs or
    creates one; an unqualified name goes to the first schema (other than ``"$user"``) of the file's
    ``search_path`` (``DEFAULT``: the role's own; ``in_transaction``: else ``SET LOCAL`` changes nothing)."""
    found = []
    path = ROLES_OWN  # a SET search_path in the file moves where unqualified names go
    for statement in statements:
        node = {statement.kind: statement.node}
        path = path_of(node, path, in_transaction)
        schema, created = _statement_needs(node)
        if schema is not None:
            schema = schema or first_named(path)
            schema = None if schema == "pg_temp" or schema.startswith("pg_temp_") else schema  # temporary
        if created or schema is not None:
            found.append((schema, created))
    return found


def missing(needs: Needs, granted: dict) -> list[str]:
    """
    The privileges the role lacks, one line each with the fix. ``granted`` is the fact's value:
    ``{"user": "app", "database": "app", "database_create": True, "default_schema": "public",
    "schemas": {"public": "t" | "f" | "nousage" | "missing"}}`` (t: CREATE and USAGE).
    """
    user, problems = granted["user"], []
    really_new = {
        name: file for name, file in needs.new_schemas.items() if granted["schemas"].get(name, "missing") == "missing"
    }  # IF NOT EXISTS of one there: no
    if really_new and not granted["database_create"]:
        schema, file = next(iter(really_new.items()))
        problems.append(
            f"{file} creates schema {schema}, but role {user} lacks CREATE on database "
            f"{granted['database']}: GRANT CREATE ON DATABASE {granted['database']} TO {user}, "
            "or create the schema as its owner"
        )
    for schema, file in needs.schemas.items():
        name = schema or granted["default_schema"]
        if not name:
            problems.append(
                f"{file} creates objects without a schema, and role {user}'s search_path "
                "has no existing schema: set the role's search_path or qualify the names"
            )
            continue
        state = granted["schemas"].get(name, "missing")
        if state == "missing":
            if name not in needs.new_schemas:
                problems.append(
                    f"{file} writes to schema {name}, which does not exist in the target: "
                    "create it first (CREATE SCHEMA in an earlier migration)"
                )
        elif state == "nousage":
            problems.append(
                f"role {user} lacks USAGE on schema {name}, needed by {file} (without it the "
                f"objects would land in another schema, or fail): GRANT USAGE, CREATE ON SCHEMA "
                f"{name} TO {user}, or use the schema owner's URL"
            )
        elif state != "t":
            problems.append(
                f"role {user} lacks CREATE on schema {name}, needed by {file} "
                f"(PostgreSQL 15 no longer grants it on public to every role): "
                f"GRANT CREATE ON SCHEMA {name} TO {user}, or use the schema owner's URL"
            )
    return problems


def privileges_sql(schemas: list[str]) -> str:
    """The SQL of the ``SchemaPrivileges`` fact for these schema names (quoted as literals)."""
    literals = ", ".join("'" + name.replace("'", "''") + "'" for name in schemas) or "NULL"
    return (
        "SELECT 'role', current_user, current_database(), "
        "has_database_privilege(current_database(), 'CREATE')::text, coalesce((current_schemas(false))[1], '')\n"
        "UNION ALL SELECT 'schema', s, coalesce((SELECT CASE WHEN NOT has_schema_privilege(n.oid, 'USAGE') "
        "THEN 'nousage' ELSE has_schema_privilege(n.oid, 'CREATE')::text END "
        f"FROM pg_namespace n WHERE n.nspname = s), 'missing'), '', '' FROM unnest(ARRAY[{literals}]::text[]) s "
        "WHERE s IS NOT NULL\n"
        "UNION ALL SELECT 'schema', s, has_schema_privilege(s, 'CREATE')::text, '', '' "
        "FROM (SELECT (current_schemas(false))[1] AS s) d WHERE s IS NOT NULL"
    )


def parse_privileges(rows: list[list[str]]) -> dict:
    granted: dict[str, Any] = {"schemas": {}}
    for row in rows:
        if row[0] == "role":
            granted.update(user=row[1], database=row[2], database_create=row[3] == "true", default_schema=row[4])
        elif row[0] == "schema":
            granted["schemas"][row[1]] = {"true": "t", "false": "f"}.get(row[2], row[2])
    return granted
