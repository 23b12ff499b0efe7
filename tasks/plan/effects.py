"""
What pending migrations do that the copy cannot live with, read from their parse trees (pglast,
PostgreSQL's own parser), before any backup or change: a statement that writes rows (``INSERT``,
``UPDATE``, ``DELETE``, ``MERGE``, ``COPY``) into a table the copy fills from the source (the copy
would undo it, or refuse the table for ever after), and ``FORCE ROW LEVEL SECURITY`` (the owner's
COPY into such a table fails).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from tasks.migrations.files import Migration

WRITES = {
    "InsertStmt": "INSERT",
    "UpdateStmt": "UPDATE",
    "DeleteStmt": "DELETE",
    "MergeStmt": "MERGE",
    "CopyStmt": "COPY",
}


def _name(relation) -> str:
    return f"{relation.schemaname or 'public'}.{relation.relname}"


def effects(
    migrations: Iterable[Migration],
) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]], list[tuple[str, str, str]]]:
    """(file, verb, table) of each statement that writes rows, (file, table) of each FORCE ROW LEVEL
    SECURITY, and (file, child, parent) of each foreign key added to an existing table that acts on a
    DELETE (CASCADE, SET NULL, SET DEFAULT), in the ``migrations`` (a file that does not parse is left
    to the proof)."""
    from pglast.enums import AlterTableType, ConstrType

    writes, forced, cascading = [], [], []
    for migration, node in _statements(migrations):
        kind = type(node).__name__
        if kind in WRITES and getattr(node, "relation", None) is not None:
            if kind == "CopyStmt" and not node.is_from:
                continue  # COPY … TO reads
            writes.append((migration.filename, WRITES[kind], _name(node.relation)))
        elif kind == "AlterTableStmt":
            if any(cmd.subtype == AlterTableType.AT_ForceRowSecurity for cmd in node.cmds or ()):
                forced.append((migration.filename, _name(node.relation)))
            cascading += [
                (migration.filename, _name(node.relation), _name(cmd.def_.pktable))
                for cmd in node.cmds or ()
                if cmd.subtype == AlterTableType.AT_AddConstraint
                and cmd.def_.contype == ConstrType.CONSTR_FOREIGN
                and cmd.def_.fk_del_action in "cnd"
            ]
    return writes, forced, cascading


def refusal(migrations: Iterable[Migration], copied: set[str], replaced: Iterable[str] = ()) -> str | None:
    """The one line refusing a copy-mode run whose pending migrations write rows of ``copied`` (plain
    'schema.table' names of the tables the copy fills from the source), force row level security, or
    add a key that a DELETE of a ``replaced`` table (or of its partitioned top) would act through: the
    rows it reaches can only be counted once the key exists, after the backup and the migration."""
    writes, forced, cascading = effects(migrations)
    cascading = [c for c in cascading if c[2] in set(replaced)]
    if cascading:
        file, child, parent = cascading[0]
        return (
            f"migration {file} adds a foreign key on {child} that acts on a DELETE of {parent}, which "
            "COPY_CONFLICT=replace reloads in this run: the rows it would remove or change cannot be counted "
            "before the migration: nothing was changed; run the replace first (without this migration), or "
            f"bring {child}'s rows into the source first"
        )
    writes = [w for w in writes if w[2] in copied]
    if writes:
        file, verb, table = writes[0]
        more = f" (and {len(writes) - 1} more such statement(s))" if len(writes) > 1 else ""
        return (
            f"migration {file} changes rows ({verb} {table}){more}, a table the copy fills from the source "
            "(DATA_MIGRATION=copy): the copy would undo it or refuse the table: nothing was changed; run the "
            "data change in the source first and keep schema changes only in the migration (docs/data-copy.md, "
            '"Copy mode after the first move")'
        )
    if forced:
        file, table = forced[0]
        return (
            f"migration {file} sets FORCE ROW LEVEL SECURITY on {table}: the owner's COPY into it fails: nothing "
            "was changed; force it after the copy has moved the rows (DATA_MIGRATION=fresh then), or connect "
            "as a role with BYPASSRLS"
        )
    return None


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table(name: str) -> str:
    schema, _, table = name.partition(".")
    return f"{_ident(schema)}.{_ident(table)}"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def violations_script(migrations: Iterable[Migration], copied: set[str]) -> str:
    """A read-only script for the SOURCE: for each CHECK, NOT NULL, UNIQUE or PRIMARY KEY the pending
    ``migrations`` add to a table the copy fills, the source rows that break it (tagged ``violates``:
    file, table, what, count; read by :func:`tasks.data.sides.parse`). Empty when there is none."""
    from pglast.enums import AlterTableType, ConstrType
    from pglast.stream import RawStream

    queries = []
    for migration, node in _statements(migrations):
        if type(node).__name__ != "AlterTableStmt" or _name(node.relation) not in copied:
            continue
        table = _name(node.relation)
        for cmd in node.cmds or ():
            what, where = None, None
            if cmd.subtype == AlterTableType.AT_SetNotNull:
                what, where = f"NOT NULL on {cmd.name}", f"{_ident(cmd.name)} IS NULL"
            elif cmd.subtype == AlterTableType.AT_AddConstraint and cmd.def_.contype == ConstrType.CONSTR_CHECK:
                expr = RawStream()(cmd.def_.raw_expr)
                what, where = f"CHECK ({expr})", f"({expr}) IS FALSE"
            elif (
                cmd.subtype == AlterTableType.AT_AddConstraint
                and cmd.def_.keys
                and cmd.def_.contype in (ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_PRIMARY)
            ):
                cols = ", ".join(_ident(k.sval) for k in cmd.def_.keys)
                kind = "UNIQUE" if cmd.def_.contype == ConstrType.CONSTR_UNIQUE else "PRIMARY KEY"
                what = f"{kind} ({', '.join(k.sval for k in cmd.def_.keys)})"
                queries.append(
                    f"SELECT 'violates', {_literal(migration.filename)}, {_literal(table)}, "
                    f"{_literal(what)}, count(*)::text FROM (SELECT FROM ONLY {_table(table)} "
                    f"GROUP BY {cols} HAVING count(*) > 1) d"
                )
                continue
            if what:
                queries.append(
                    f"SELECT 'violates', {_literal(migration.filename)}, {_literal(table)}, "
                    f"{_literal(what)}, count(*)::text FROM ONLY {_table(table)} WHERE {where}"
                )
    return "".join(q + ";\n" for q in queries)


def violations_refusal(found: list[tuple[str, str, str, int]]) -> str | None:
    """Pure: the one line refusing a copy whose source rows break a constraint a pending migration adds."""
    broken = [v for v in found if v[3]]
    if not broken:
        return None
    file, table, what, count = broken[0]
    return (
        f"migration {file} adds {what} to {table}, which {count:,} row(s) of the source break: the copy "
        "would fail after the migration: nothing was changed; fix those rows in the source first"
    )


def _statements(migrations: Iterable[Migration]) -> Iterator[tuple[Migration, Any]]:
    """Each pending file's statements as parse trees (a file PostgreSQL's parser refuses is the proof's to say)."""
    import pglast

    for migration in migrations:
        try:
            statements = pglast.parse_sql(migration.sql)
        except pglast.parser.ParseError:
            continue
        for raw in statements:
            yield migration, raw.stmt
