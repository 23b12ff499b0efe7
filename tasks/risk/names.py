"""
Which table an unqualified name in a pending statement means, as PostgreSQL resolves it when the run
applies the statement: the file's own ``search_path`` (:mod:`tasks.migrations.searchpath`, the whole
list, ``"$user"`` as the target's user) looked up in turn, on the target's tables (the ``SearchPathTables``
fact) and those the run made before the statement (a name no schema holds is created in the path's first
schema that exists). Without a SET in the file the run's pinned ``"$user", public`` applies. Pure: the
target's catalog comes in as data. Without it (no target read), the first schema the file names.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace

from psycopg import sql

from tasks.migrations.searchpath import ROLES_OWN, USER, first_named, path_of

PINNED = (USER, "public")  # the run's sessions (tasks.core.pinned)
PLAIN = re.compile(r'[a-z_][a-z0-9_$]*|"(?:[^"]|"")*"')  # one identifier as SQL writes it
TABLES = ("OBJECT_TABLE", "OBJECT_MATVIEW", "OBJECT_VIEW", "OBJECT_FOREIGN_TABLE")

CATALOG_SQL = """
SELECT current_user,
       (SELECT coalesce(json_agg(n.nspname), '[]') FROM pg_catalog.pg_namespace n
         WHERE n.nspname = ANY({schemas}) OR n.nspname = current_user)::text,
       (SELECT coalesce(json_agg(json_build_array(n.nspname, c.relname)), '[]')
          FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
           AND (n.nspname = ANY({schemas}) OR n.nspname = current_user))::text
"""


@dataclass(frozen=True)
class Catalog:
    """The target's user, and its schemas and tables among those the pending files' search_paths name."""

    user: str
    schemas: frozenset[str]
    tables: frozenset[tuple[str, str]]


def catalog_sql(schemas: set[str]) -> str:
    return sql.SQL(CATALOG_SQL).format(schemas=sql.Literal(sorted(schemas))).as_string(None)


def parse_catalog(rows: list[list[str]]) -> Catalog:
    user, schemas, tables = rows[0]
    return Catalog(user, frozenset(json.loads(schemas)), frozenset(tuple(t) for t in json.loads(tables)))


def named_schemas(statements) -> set[str]:
    """Every schema a search_path of ``statements`` ((kind, node) pairs) names, and public."""
    found, path = {"public"}, ROLES_OWN
    for kind, node in statements:
        path = path_of({kind: node}, path)
        found |= {entry for entry in path if entry != USER}
    return found


def unquote(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name


def quote(name: str) -> str:
    """An identifier as SQL writes it (quoted unless plain lower case)."""
    return name if re.fullmatch(r"[a-z_][a-z0-9_$]*", name) else '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Scope:
    """Where one statement's unqualified names go: its file's search_path at that statement, on the target's
    tables (``None``: not read) and the run's own before it."""

    path: tuple[str, ...] = ROLES_OWN
    catalog: Catalog | None = None
    made: frozenset[tuple[str, str]] = frozenset()
    gone: frozenset[tuple[str, str]] = frozenset()
    schemas: frozenset[str] = frozenset()  # made by the run

    def entries(self) -> list[str]:
        user = self.catalog.user if self.catalog else ""
        return [user if entry == USER else entry for entry in (self.path or PINNED) if entry and entry != "pg_temp"]

    def holds(self, schema: str, name: str) -> bool:
        if (schema, name) in self.made:
            return True
        return self.catalog is not None and (schema, name) in self.catalog.tables and (schema, name) not in self.gone

    def schema_of(self, name: str) -> str:
        """The schema the unqualified table ``name`` (unquoted) resolves to ('' : as the session resolves it)."""
        if self.catalog is None:
            return first_named(self.path)
        return next((schema for schema in self.entries() if self.holds(schema, name)), self.home())

    def home(self) -> str:
        """The schema an unqualified CREATE goes to: the path's first that exists ('' : as the session says)."""
        if self.catalog is None:
            return first_named(self.path)
        existing = self.catalog.schemas | self.schemas
        return next((schema for schema in self.entries() if schema in existing), first_named(self.path))

    def qualify(self, table: str, created: bool = False) -> str:
        """``table`` (as :func:`tasks.risk.classify.table_name` writes it) schema-qualified where the scope
        says (public's tables stay bare, as the run's default path names them); ``created``: by the
        statement itself (in :meth:`home`)."""
        if not PLAIN.fullmatch(table):
            return table  # qualified already (or nameless)
        schema = self.home() if created else self.schema_of(unquote(table))
        return f"{quote(schema)}.{table}" if schema and schema != "public" else table


@dataclass
class _Walk:
    """The run's own tables and schemas so far (for :func:`scopes`)."""

    made: set[tuple[str, str]] = field(default_factory=set)
    gone: set[tuple[str, str]] = field(default_factory=set)
    schemas: set[str] = field(default_factory=set)
    changed: bool = False

    def make(self, schema: str, name: str) -> None:
        self.made.add((schema, name))
        self.gone.discard((schema, name))
        self.changed = True

    def drop(self, schema: str, name: str) -> None:
        self.made.discard((schema, name))
        self.gone.add((schema, name))
        self.changed = True


def _where(relation: dict, scope: Scope, created: bool = False) -> tuple[str, str]:
    name = relation.get("relname", "")
    return relation.get("schemaname") or (scope.home() if created else scope.schema_of(name)) or "public", name


def _names(items: list, scope: Scope) -> tuple[str, str]:
    parts = [item.get("String", {}).get("sval", "") for item in items]
    return (parts[-2], parts[-1]) if len(parts) > 1 else _where({"relname": parts[-1] if parts else ""}, scope)


def _changes(kind: str, node: dict, scope: Scope, run: _Walk) -> None:
    """The tables and schemas ``node`` makes, drops, renames or moves."""
    if kind == "CreateSchemaStmt":
        run.schemas.add(node.get("schemaname", ""))
        run.changed = True
    elif kind in ("CreateStmt", "ViewStmt", "CreateTableAsStmt"):
        relation = node.get("relation") or node.get("view") or node.get("into", {}).get("rel", {})
        if relation.get("relpersistence") != "t":
            run.make(*_where(relation, scope, created=True))
    elif kind == "DropStmt" and node.get("removeType") in TABLES:
        for item in node.get("objects", []):
            run.drop(*_names(item.get("List", {}).get("items", []), scope))
    elif kind == "RenameStmt" and node.get("renameType") in TABLES:
        schema, name = _where(node.get("relation", {}), scope)
        run.drop(schema, name)
        run.make(schema, node.get("newname", ""))
    elif kind == "AlterObjectSchemaStmt" and node.get("objectType") in TABLES:
        relation = node.get("relation", {})
        run.drop(*_where(relation, scope))
        run.make(node.get("newschema", ""), relation.get("relname", ""))


def scopes(statements, catalog: Catalog | None) -> dict[str, list[Scope]]:
    """For each file, the scope of each of its statements in order (``statements``: (file, kind, node) in
    the order the run applies them); a file starts with the session's own search_path (the run resets the
    session between files)."""
    found: dict[str, list[Scope]] = {}
    run, scope = _Walk(), Scope(catalog=catalog)
    for name, kind, node in statements:
        path = path_of({kind: node}, scope.path if name in found else ROLES_OWN)
        if path != scope.path:
            scope = replace(scope, path=path)
        found.setdefault(name, []).append(scope)
        _changes(kind, node, scope, run)
        if run.changed:  # the next statement sees what this one made or dropped
            run.changed = False
            scope = replace(scope, made=frozenset(run.made), gone=frozenset(run.gone), schemas=frozenset(run.schemas))
    return found
