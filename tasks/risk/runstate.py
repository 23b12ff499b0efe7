"""
What the run's own statements have done before each pending statement (pure, from pglast's parse
trees, in the order the run applies them): the tables it dropped or created (their rows are not the
target's: "made in this run"; a table renamed or moved keeps the target's name, :mod:`tasks.risk.names`),
the columns it dropped or renamed, the columns it
added (with the value existing rows get), the domains it created, and whether the rows a statement
meets may differ from the target's (an earlier write, TRUNCATE, code, or ALTER COLUMN … TYPE of that
table). The data checks read the target's rows only where they are the rows the statement meets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from tasks.risk.checks import SERIAL
from tasks.risk.classify import bare, quote, table_name
from tasks.risk.names import TEMP, Scope

# statements after which any table's rows may differ (a trigger fired by a write may change any table)
WRITES = ("UpdateStmt", "InsertStmt", "DeleteStmt", "CopyStmt", "MergeStmt", "TruncateStmt")
CODE = ("DoStmt", "SelectStmt", "CallStmt")
CHANGED_FILE = "an earlier statement of the file changes the rows"
CHANGED_RUN = "an earlier pending file changes the rows"
CODE_RAN = "an earlier pending statement runs code"
RETYPED = "the statement changes a column's type (USING) before it"
# built-in types pglast names without pg_catalog (never a domain)
BUILTIN = {"text", "uuid", "json", "jsonb", "bytea", "date", "inet", "cidr", "macaddr", "money", "tsvector", "xml"}
BUILTIN |= {"timestamptz", "timetz", "int2", "int4", "int8", "float4", "float8", "bool", "varchar", "char", "name"}
REMADE_TYPES = ("OBJECT_TABLE", "OBJECT_MATVIEW", "OBJECT_VIEW", "OBJECT_FOREIGN_TABLE")


@dataclass(frozen=True)
class NewColumn:
    """A column the run adds to an existing table: the SQL value its existing rows get (``NULL`` without a
    default), its type as SQL, and whether that type forbids NULL (a NOT NULL domain made in this run);
    ``domain``: the type's name, when it may be a domain of the target's (its NOT NULL read there)."""

    name: str
    value: str
    type: str
    notnull: bool = False
    computed: bool = False  # identity or serial: distinct values from a sequence
    generated: bool = False  # GENERATED ALWAYS AS (…) STORED: its value is not evaluated by the check
    domain: str = ""


@dataclass
class Before:
    """The run's state when one statement starts (see the module's docstring)."""

    remade: set[str] = field(default_factory=set)  # bare table names
    columns: set[tuple[str, str]] = field(default_factory=set)  # (bare table, column) dropped or renamed
    added: dict[str, dict[str, NewColumn]] = field(default_factory=dict)  # bare table -> column -> new column
    changed: dict[str, str] = field(default_factory=dict)  # bare table -> why its rows differ
    everywhere: str = ""  # why every table's rows may differ ('' : none)
    empty: set[str] = field(default_factory=set)  # bare tables made by CREATE TABLE in this run, no row since
    # bare parent -> its children (qualified) joined in this run by INHERIT or ATTACH PARTITION: the parent's
    # NOT NULL, CHECK and rewrites reach their rows, which the target's size of the parent leaves out
    joined: dict[str, set[str]] = field(default_factory=dict)

    def copy(self) -> Before:
        return Before(
            set(self.remade),
            set(self.columns),
            {t: dict(c) for t, c in self.added.items()},
            dict(self.changed),
            self.everywhere,
            set(self.empty),
            {parent: set(children) for parent, children in self.joined.items()},
        )

    def rows_differ(self, table: str) -> str:
        """Why ``table``'s rows may not be the target's when the statement runs ('' : they are)."""
        return self.everywhere or self.changed.get(bare(table), "")


def _sval(node: dict) -> str:
    return node.get("String", {}).get("sval", "")


def _relation_names(node: dict, scope: Scope, created: bool = False) -> str:
    if created and node.get("relpersistence") == "t":  # a temporary table: in pg_temp
        return scope.qualify(f"{TEMP}.{quote(node.get('relname', ''))}")
    return bare(scope.qualify(table_name(node), created))


def _object_name(items: list, scope: Scope) -> str:
    names = [quote(_sval(item)) for item in items]
    return bare(scope.qualify(".".join(names[-2:]))) if names else ""


def new_column(column, domains: dict[str, NewColumn]) -> NewColumn:
    """The value an existing row gets in a column ADD COLUMN makes (``column``: pglast's ColumnDef)."""
    from pglast.enums import ConstrType
    from pglast.stream import RawStream

    names = [n.sval for n in column.typeName.names] if column.typeName else []
    value, computed, generated = "NULL", bool(names) and names[-1].lower() in SERIAL, False
    for constraint in column.constraints or ():
        computed = computed or constraint.contype == ConstrType.CONSTR_IDENTITY
        generated = generated or constraint.contype == ConstrType.CONSTR_GENERATED
        if constraint.contype == ConstrType.CONSTR_DEFAULT:
            value = RawStream()(constraint.raw_expr)
    domain = domains.get(names[-1]) if len(names) == 1 else None
    if domain is not None:  # a domain made in this run: its base type, its NOT NULL, its default
        value = domain.value if value == "NULL" else value
        return NewColumn(column.colname or "", value, domain.type, domain.notnull, computed, generated)
    type_sql = RawStream()(column.typeName) if column.typeName else ""
    maybe_domain = type_sql if names and names[0] != "pg_catalog" and names[-1] not in BUILTIN else ""
    return NewColumn(column.colname or "", value, type_sql, computed=computed, generated=generated, domain=maybe_domain)


def walk(
    statements: list[tuple[str, int, str, dict, str]], scopes: dict | None = None
) -> dict[tuple[str, int], Before]:
    """For each (file, line) of ``statements`` (file, line, kind, node, text; in the run's order): the run's
    state before it, with the columns the statement itself adds. ``scopes``: where each statement's
    unqualified names go (:func:`tasks.risk.names.scopes`; without: each file's own search_path alone)."""
    from pglast import parse_sql
    from pglast.enums import AlterTableType

    from tasks.migrations.searchpath import UNKNOWN, set_config_path
    from tasks.risk.names import scopes as scopes_of

    if scopes is None:
        scopes = scopes_of([(name, kind, node) for name, _, kind, node, _ in statements], None)
    state, found, file, index = Before(), {}, None, 0
    domains: dict[str, NewColumn] = {}
    for name, line, kind, node, text in statements:
        if name != file:
            file, index = name, 0
            state.changed = {t: CHANGED_RUN for t in state.changed}
            if state.everywhere == CHANGED_FILE:
                state.everywhere = CHANGED_RUN
        scope, index = scopes[name][index], index + 1
        if kind == "SelectStmt" and set_config_path(node) not in (
            None,
            UNKNOWN,
        ):  # no code of the user's: the rows stay
            found[(name, line)] = state.copy()
            continue
        mine = state.copy()
        if kind == "AlterTableStmt" and '"AT_AddColumn"' in json.dumps(node):
            table = _relation_names(node.get("relation", {}), scope)
            for cmd in parse_sql(text)[0].stmt.cmds:
                if cmd.subtype == AlterTableType.AT_AddColumn:
                    column = new_column(cmd.def_, domains)
                    mine.added.setdefault(table, {})[column.name] = column
        if kind == "AlterTableStmt" and '"AT_AlterColumnType"' in json.dumps(node):  # its rows change first
            mine.changed[_relation_names(node.get("relation", {}), scope)] = RETYPED
        found[(name, line)] = mine
        state = _after(kind, node, text, scope, domains, mine)
    return found


def _join(state: Before, parent: str, child: str, joins: bool) -> None:
    children = state.joined.setdefault(parent, set())
    (children.add if joins else children.discard)(child)


def _after(kind: str, node: dict, text: str, scope: Scope, domains: dict[str, NewColumn], mine: Before) -> Before:
    """The state after one statement."""
    state = mine.copy()
    if kind == "SelectStmt" and node.get("intoClause"):  # SELECT … INTO t: a table made in this run
        state.remade.add(_relation_names(node["intoClause"].get("rel", {}), scope, created=True))
    for element in node.get("schemaElts", []) if kind == "CreateSchemaStmt" else []:  # CREATE SCHEMA s CREATE TABLE t
        relation = element.get("CreateStmt", {}).get("relation") or element.get("ViewStmt", {}).get("view") or {}
        schema = relation.get("schemaname") or node.get("schemaname") or node.get("authrole", {}).get("rolename", "")
        if relation.get("relname") and schema:
            state.remade.add(bare(scope.qualify(f"{quote(schema)}.{quote(relation['relname'])}")))
    if kind in WRITES or kind in CODE:  # rows written, or code that may write them
        state.empty = set()
    if kind in WRITES:
        state.everywhere = state.everywhere or CHANGED_FILE
    elif (kind in CODE and (kind != "SelectStmt" or "FuncCall" in repr(node))) or (
        kind in ("ExplainStmt", "CreateTableAsStmt") and "FuncCall" in repr(node)
    ):  # EXPLAIN ANALYZE and CREATE TABLE AS run what they call too
        state.everywhere = state.everywhere or CODE_RAN
    elif kind == "DropStmt" and node.get("removeType") in REMADE_TYPES:
        state.remade |= {_object_name(item.get("List", {}).get("items", []), scope) for item in node.get("objects", [])}
    elif kind == "RenameStmt" and node.get("renameType") == "OBJECT_COLUMN":
        table = _relation_names(node.get("relation", {}), scope)
        state.columns |= {(table, node.get("subname", "")), (table, node.get("newname", ""))}
    elif kind == "CreateStmt" and not node.get("if_not_exists"):
        state.remade.add(made := _relation_names(node.get("relation", {}), scope, created=True))
        if not node.get("partbound") and not node.get("inhRelations"):  # not a partition or child: no row
            state.empty.add(made)
    elif kind == "CreateTableAsStmt" and not node.get("if_not_exists"):
        state.remade.add(_relation_names(node.get("into", {}).get("rel", {}), scope, created=True))
    elif kind == "CreateDomainStmt":
        from pglast import ast, parse_sql

        stmt = parse_sql(text)[0].stmt
        column = new_column(ast.ColumnDef(typeName=stmt.typeName, constraints=stmt.constraints), {})
        kinds = {c.get("Constraint", {}).get("contype") for c in node.get("constraints", [])}
        domains[stmt.domainname[-1].sval] = NewColumn("", column.value, column.type, "CONSTR_NOTNULL" in kinds)
    elif kind == "AlterTableStmt":
        table = _relation_names(node.get("relation", {}), scope)
        for item in node.get("cmds", []):
            cmd = item.get("AlterTableCmd", {})
            if cmd.get("subtype") == "AT_DropColumn":
                state.columns.add((table, cmd.get("name", "")))
                state.added.get(table, {}).pop(cmd.get("name", ""), None)
            elif cmd.get("subtype") == "AT_AlterColumnType":
                state.changed[table] = CHANGED_FILE
            elif cmd.get("subtype") in ("AT_AttachPartition", "AT_DetachPartition"):  # the parent's rows change
                state.empty.discard(table)
                state.changed[table] = CHANGED_FILE
                child = scope.qualify(table_name(cmd.get("def", {}).get("PartitionCmd", {}).get("name", {})))
                _join(state, table, child, cmd["subtype"] == "AT_AttachPartition")
            elif cmd.get("subtype") in ("AT_AddInherit", "AT_DropInherit"):  # the child's rows join or leave
                parent = _relation_names(cmd.get("def", {}).get("RangeVar", {}), scope)
                state.empty.discard(parent)
                state.changed[parent] = CHANGED_FILE
                _join(
                    state,
                    parent,
                    scope.qualify(table_name(node.get("relation", {}))),
                    cmd["subtype"] == "AT_AddInherit",
                )
    return state
