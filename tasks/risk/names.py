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
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from pglast.keywords import COL_NAME_KEYWORDS, RESERVED_KEYWORDS, TYPE_FUNC_NAME_KEYWORDS
from psycopg import sql

from tasks.migrations.searchpath import ROLES_OWN, UNKNOWN, USER, first_named, path_of

PINNED = (USER, "public")  # the run's sessions (tasks.core.pinned)
PLAIN = re.compile(r'[a-z_][a-z0-9_$]*|"(?:[^"]|"")*"')  # one identifier as SQL writes it
KEYWORDS = RESERVED_KEYWORDS | COL_NAME_KEYWORDS | TYPE_FUNC_NAME_KEYWORDS  # quote_ident quotes them
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
    """Every schema a search_path of ``statements`` ((kind, node) pairs) names, or a statement qualifies a
    name with, and public."""
    found, path = {"public"}, ROLES_OWN
    for kind, node in statements:
        path = path_of({kind: node}, path)
        found |= {entry for entry in path if entry and entry != USER and path != UNKNOWN}
        found |= set(_schema_names(node))
    return found


def _schema_names(node):
    """The ``schemaname`` and ``newschema`` values anywhere in a parse tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("schemaname", "newschema") and isinstance(value, str):
                yield value
            else:
                yield from _schema_names(value)
    elif isinstance(node, list):
        for item in node:
            yield from _schema_names(item)


def unquote(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name


def quote(name: str) -> str:
    """An identifier as SQL writes it, as ``quote_ident`` does: quoted unless plain lower case and no keyword
    (``"order"``, ``"user"``) but an unreserved one."""
    return (
        name
        if re.fullmatch(r"[a-z_][a-z0-9_]*", name) and name not in KEYWORDS
        else '"' + name.replace('"', '""') + '"'
    )


TEMP = "pg_temp"  # a temporary table's schema (searched first unless the path names it)
QUALIFIED = re.compile(r'([a-z_][a-z0-9_$]*|"(?:[^"]|"")*")\.([a-z_][a-z0-9_$]*|"(?:[^"]|"")*")')


@dataclass(frozen=True)
class Made:
    """What the run did to tables and schemas before a statement (a snapshot of :class:`_Walk`)."""

    tables: frozenset[tuple[str, str]] = frozenset()  # made (created, or renamed or moved to)
    gone: frozenset[tuple[str, str]] = frozenset()  # dropped, renamed or moved away
    origins: Mapping[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # renamed/moved -> target's
    schemas: frozenset[str] = frozenset()  # made
    dropped: frozenset[str] = frozenset()  # schemas dropped or renamed away
    renamed: Mapping[str, str] = field(default_factory=dict)  # schema renamed -> the target's name


@dataclass(frozen=True)
class Scope:
    """Where one statement's unqualified names go: its file's search_path at that statement (``UNKNOWN``:
    computed when the file runs), on the target's tables (``None``: not read) and the run's own before it."""

    path: tuple[str, ...] = ROLES_OWN
    catalog: Catalog | None = None
    run: Made = Made()

    @property
    def unknown(self) -> bool:
        return self.path == UNKNOWN

    def entries(self) -> list[str]:
        """The schemas looked in, in order: "$user" as the target's role, ``pg_temp`` first unless named."""
        user = self.catalog.user if self.catalog else ""
        path = [
            user if entry == USER else entry for entry in (PINNED if self.path in (ROLES_OWN, UNKNOWN) else self.path)
        ]
        return [entry for entry in ([] if TEMP in path else [TEMP]) + path if entry]

    def origin(self, schema: str, name: str) -> tuple[str, str]:
        """The target's name of a table the run renamed or moved (or of a schema it renamed)."""
        found = self.run.origins.get((schema, name))
        if found:
            return found
        return self.run.renamed.get(schema, schema), name

    def holds(self, schema: str, name: str) -> bool:
        if (schema, name) in self.run.tables:
            return True
        if (schema, name) in self.run.gone or schema in self.run.dropped or self.catalog is None:
            return False
        return self.origin(schema, name) in self.catalog.tables

    def exists(self, table: tuple[str, str]) -> bool:
        """Whether the table is there when the statement runs (without the target's catalog: assumed)."""
        return self.catalog is None or self.holds(*table)

    def schema_of(self, name: str) -> str:
        """The schema the unqualified table ``name`` (unquoted) resolves to."""
        if self.catalog is None:
            return first_named(self.path) or "public"
        return next((schema for schema in self.entries() if self.holds(schema, name)), self.home())

    def home(self) -> str:
        """The schema an unqualified CREATE goes to: the path's first that exists."""
        if self.catalog is None:
            return first_named(self.path) or "public"
        if self.path and self.path[0] == TEMP:
            return TEMP  # pg_temp first: PostgreSQL makes the table temporary
        existing = (self.catalog.schemas - self.run.dropped) | self.run.schemas
        return next((s for s in self.entries() if s in existing and s != TEMP), first_named(self.path) or "public")

    def where(self, table: str, created: bool = False) -> tuple[str, str] | None:
        """(schema, name) of ``table`` as :func:`tasks.risk.classify.table_name` writes it; None: nameless."""
        if PLAIN.fullmatch(table):
            name = unquote(table)
            return (self.home() if created else self.schema_of(name)), name
        both = QUALIFIED.fullmatch(table)
        return (unquote(both.group(1)), unquote(both.group(2))) if both else None

    def qualify(self, table: str, created: bool = False) -> str:
        """``table`` (as :func:`tasks.risk.classify.table_name` writes it) as the target names it: with its
        schema (without the target's catalog: the file's first schema, public's tables bare), a table the run
        renamed or moved by its name on the target; ``created``: by the statement itself (in :meth:`home`)."""
        found = self.where(table, created)
        if found is None:
            return table  # nameless
        origin = self.run.origins.get(found)
        if origin is not None and origin not in self.run.tables:
            found = origin  # renamed or moved in the run: the target's table
        elif found not in self.run.tables:
            found = (self.run.renamed.get(found[0], found[0]), found[1])  # in a schema the run renamed
        schema, name = found
        if self.catalog is None and schema == "public":
            return quote(name)
        return f"{quote(schema)}.{quote(name)}"


@dataclass
class _Walk:
    """The run's own tables and schemas so far (for :func:`scopes`)."""

    made: set[tuple[str, str]] = field(default_factory=set)
    gone: set[tuple[str, str]] = field(default_factory=set)
    origins: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    schemas: set[str] = field(default_factory=set)
    dropped: set[str] = field(default_factory=set)
    renamed: dict[str, str] = field(default_factory=dict)
    changed: bool = False

    def make(self, schema: str, name: str) -> None:
        self.made.add((schema, name))
        self.gone.discard((schema, name))
        self.changed = True

    def drop(self, schema: str, name: str) -> None:
        self.made.discard((schema, name))
        self.origins.pop((schema, name), None)
        self.gone.add((schema, name))
        self.changed = True

    def move(self, scope: Scope, old: tuple[str, str], new: tuple[str, str]) -> None:
        """A table renamed or moved: the new name is the target's table (unless the run made it)."""
        origin = self.origins.get(old) or (None if old in self.made else scope.origin(*old))
        self.drop(*old)
        self.make(*new)
        if origin is not None:
            self.origins[new] = origin

    def schema(self, name: str, made: bool) -> None:
        (self.schemas if made else self.dropped).add(name)
        (self.dropped if made else self.schemas).discard(name)
        if not made:
            self.made = {t for t in self.made if t[0] != name}
        self.changed = True

    def snapshot(self) -> Made:
        return Made(
            frozenset(self.made),
            frozenset(self.gone),
            dict(self.origins),
            frozenset(self.schemas),
            frozenset(self.dropped),
            dict(self.renamed),
        )


def _where(relation: dict, scope: Scope, created: bool = False) -> tuple[str, str]:
    name = relation.get("relname", "")
    if created and relation.get("relpersistence") == "t":
        return TEMP, name
    return relation.get("schemaname") or (scope.home() if created else scope.schema_of(name)) or "public", name


def _names(items: list, scope: Scope) -> tuple[str, str]:
    parts = [item.get("String", {}).get("sval", "") for item in items]
    return (parts[-2], parts[-1]) if len(parts) > 1 else _where({"relname": parts[-1] if parts else ""}, scope)


def _changes(kind: str, node: dict, scope: Scope, run: _Walk) -> None:
    """The tables and schemas ``node`` makes, drops, renames or moves."""
    if kind == "CreateSchemaStmt":
        role = node.get("authrole", {})
        own = scope.catalog.user if scope.catalog and role.get("roletype") != "ROLESPEC_CSTRING" else ""
        name = node.get("schemaname") or role.get("rolename") or own
        run.schema(name, made=True)
        for element in node.get("schemaElts", []):  # CREATE SCHEMA s CREATE TABLE t …: s.t
            ((inner, body),) = element.items()
            relation = body.get("relation") or body.get("view") or {}
            if inner in ("CreateStmt", "ViewStmt") and relation.get("relname"):
                run.make(relation.get("schemaname") or name, relation["relname"])
    elif kind in ("CreateStmt", "ViewStmt", "CreateTableAsStmt") or (kind == "SelectStmt" and node.get("intoClause")):
        relation = (
            node.get("relation") or node.get("view") or (node.get("into") or node.get("intoClause", {})).get("rel", {})
        )
        run.make(*_where(relation, scope, created=True))
    elif kind == "DropStmt" and node.get("removeType") in TABLES:
        for item in node.get("objects", []):
            run.drop(*_names(item.get("List", {}).get("items", []), scope))
    elif kind == "DropStmt" and node.get("removeType") == "OBJECT_SCHEMA":
        for item in node.get("objects", []):
            run.schema(item.get("String", {}).get("sval", ""), made=False)
    elif kind == "RenameStmt" and node.get("renameType") in TABLES:
        schema, name = old = _where(node.get("relation", {}), scope)
        if scope.exists(old):
            run.move(scope, old, (schema, node.get("newname", "")))
    elif kind == "RenameStmt" and node.get("renameType") == "OBJECT_SCHEMA":
        old, new = node.get("subname", ""), node.get("newname", "")
        run.renamed[new] = scope.run.renamed.get(old, old)
        run.made |= {(new, t) for s, t in run.made if s == old}
        run.schema(old, made=False)
        run.schema(new, made=True)
    elif kind == "AlterObjectSchemaStmt" and node.get("objectType") in TABLES:
        relation = node.get("relation", {})
        old = _where(relation, scope)
        if scope.exists(old):
            run.move(scope, old, (node.get("newschema", ""), relation.get("relname", "")))


def scopes(statements, catalog: Catalog | None, no_transaction: frozenset[str] = frozenset()) -> dict[str, list[Scope]]:
    """For each file, the scope of each of its statements in order (``statements``: (file, kind, node) in
    the order the run applies them; ``no_transaction``: the files that run without a transaction, where
    SET LOCAL has no effect); a file starts with the session's own search_path (the run resets the session
    between files), and ROLLBACK TO SAVEPOINT restores the path the savepoint saw."""
    found: dict[str, list[Scope]] = {}
    run, scope = _Walk(), Scope(catalog=catalog)
    saved: dict[str, tuple[str, ...]] = {}
    for name, kind, node in statements:
        if name not in found:
            saved = {}
        path = path_of({kind: node}, scope.path if name in found else ROLES_OWN, name not in no_transaction)
        savepoint = node.get("savepoint_name", "") if kind == "TransactionStmt" else ""
        if node.get("kind") == "TRANS_STMT_SAVEPOINT" and savepoint:
            saved[savepoint] = path
        elif node.get("kind") == "TRANS_STMT_ROLLBACK_TO" and savepoint in saved:
            path = saved[savepoint]
        if path != scope.path:
            scope = replace(scope, path=path)
        found.setdefault(name, []).append(scope)
        _changes(kind, node, scope, run)
        if run.changed:  # the next statement sees what this one made or dropped
            run.changed = False
            scope = replace(scope, run=run.snapshot())
    return found
