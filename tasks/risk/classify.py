"""
What a pending statement will do to an existing table, read from PostgreSQL's parse tree (pglast's
JSON, kept on each :class:`~tasks.migrations.sqlsplit.Statement`): the lock it takes, whether it
rewrites the table, builds an index without CONCURRENTLY or validates every row, and the data check
that says beforehand whether it will fail (NOT NULL, UNIQUE/PRIMARY KEY, CHECK, FOREIGN KEY). Pure.

The lock level here is PostgreSQL's documented one for the command; the proof observes the real one
(:mod:`tasks.risk.observe`), which wins where it was recorded.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

from tasks.risk.bound import bound_text
from tasks.risk.checks import DataCheck, column_checks, index_check, serial
from tasks.risk.names import quote

ACCEPT = "-- pgconverge: accept-risk"

ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"
SHARE = "SHARE"
SHARE_ROW_EXCLUSIVE = "SHARE ROW EXCLUSIVE"
SHARE_UPDATE_EXCLUSIVE = "SHARE UPDATE EXCLUSIVE"

# ALTER TABLE subcommands and the lock they take (PostgreSQL's AlterTableGetLockLevel), when not ACCESS EXCLUSIVE.
LIGHTER = {
    "AT_ValidateConstraint": SHARE_UPDATE_EXCLUSIVE,
    "AT_AttachPartition": SHARE_UPDATE_EXCLUSIVE,  # on the parent (PostgreSQL 12+); the partition's below
    "AT_SetStatistics": SHARE_UPDATE_EXCLUSIVE,
    "AT_ClusterOn": SHARE_UPDATE_EXCLUSIVE,
    "AT_DropCluster": SHARE_UPDATE_EXCLUSIVE,
    "AT_SetRelOptions": SHARE_UPDATE_EXCLUSIVE,
    "AT_ResetRelOptions": SHARE_UPDATE_EXCLUSIVE,
    "AT_EnableTrig": SHARE_ROW_EXCLUSIVE,
    "AT_DisableTrig": SHARE_ROW_EXCLUSIVE,
    "AT_EnableTrigAll": SHARE_ROW_EXCLUSIVE,
    "AT_DisableTrigAll": SHARE_ROW_EXCLUSIVE,
    "AT_EnableTrigUser": SHARE_ROW_EXCLUSIVE,
    "AT_DisableTrigUser": SHARE_ROW_EXCLUSIVE,
}
PARTITION = "partition constraint"  # ATTACH PARTITION: every row of the partition (and a default one) read
STRENGTH = [SHARE_UPDATE_EXCLUSIVE, SHARE, SHARE_ROW_EXCLUSIVE, "EXCLUSIVE", ACCESS_EXCLUSIVE]


@dataclass(frozen=True)
class Risk:
    """One statement's effect on one table as written (``schema.name`` or ``name``)."""

    file: str
    line: int
    table: str
    lock: str
    rewrite: bool = False
    index_build: bool = False  # CREATE INDEX (or UNIQUE/PRIMARY KEY constraint) without CONCURRENTLY
    validation: str = ""  # NOT NULL, CHECK, FOREIGN KEY: every row read under the lock
    check: DataCheck | None = None
    accepted: bool = False  # the file has a "-- pgconverge: accept-risk" line
    deferred: DataCheck | None = None  # a NOT VALID constraint: the check its VALIDATE CONSTRAINT will need
    unobserved: str = ""  # why the lock (and rewrite) is the parse tree's, not the proof's ('' : observed)
    only: bool = False  # ON ONLY / ALTER TABLE ONLY: a partitioned parent's partitions are not scanned
    remade: bool = False  # an earlier pending statement dropped or created the table
    reindex: bool = False  # the index build is a REINDEX (made safe by REINDEX CONCURRENTLY)

    @property
    def heavy(self) -> bool:
        """What takes time in proportion to the table's size while the lock is held."""
        return self.rewrite or self.index_build or bool(self.validation)


@functools.lru_cache(maxsize=4096)
def accepted(sql: str) -> bool:
    """Whether a file accepts its risks: a comment line that is exactly the directive (case and spaces
    aside), outside any statement (PostgreSQL's scanner says it is a comment, not part of a string).
    Kept per text: the plan asks it of each file more than once."""
    from pglast import parser

    wanted = " ".join(ACCEPT.lower().split())
    try:
        tokens = parser.scan(sql)
    except parser.ParseError:
        return False
    for token in tokens:
        if token.name != "SQL_COMMENT":
            continue
        text = sql[token.start : token.end + 1]  # pglast's offsets are characters, the end inclusive
        line_start = max(sql.rfind("\n", 0, token.start), sql.rfind("\r", 0, token.start)) + 1
        alone = not sql[line_start : token.start].strip()
        said = " ".join(text.lower().split())
        reason = said.startswith(wanted) and not said[len(wanted) : len(wanted) + 1].isalnum()
        if alone and reason:  # a reason may follow the directive: "-- pgconverge: accept-risk: empty at night"
            return True
    return False


def bare(name: str) -> str:
    """``public.m`` and ``m`` name the same table in the default search_path."""
    return name.removeprefix("public.")


def table_name(relation: dict) -> str:
    """The table as SQL names it (``schema.name`` or ``name``), fit for ``to_regclass``."""
    name = quote(relation.get("relname", ""))
    return f"{quote(relation['schemaname'])}.{name}" if relation.get("schemaname") else name


def _names(items: list | None) -> tuple[str, ...]:
    return tuple(item["String"]["sval"] for item in items or [] if "String" in item)


def _stronger(a: str, b: str) -> str:
    return a if STRENGTH.index(a) >= STRENGTH.index(b) else b


def deparse_check(statement_text: str, index: int) -> str:
    """The condition of the ``index``-th ALTER TABLE subcommand of ``statement_text``, deparsed by pglast."""
    from pglast import parse_sql
    from pglast.stream import RawStream

    stmt = parse_sql(statement_text)[0].stmt
    return RawStream()(stmt.cmds[index].def_.raw_expr)


def constraint_risk(file: str, line: int, table: str, constraint: dict, text: str, index: int) -> Risk | None:
    """The risk of an added constraint (the ``index``-th subcommand of the ALTER TABLE ``text``)."""
    kind = constraint.get("contype")
    not_valid = bool(constraint.get("skip_validation"))
    if kind in ("CONSTR_UNIQUE", "CONSTR_PRIMARY"):
        if constraint.get("indexname"):  # USING INDEX: no build, no scan
            return Risk(file, line, table, ACCESS_EXCLUSIVE)
        check = DataCheck(
            "unique",
            _names(constraint.get("keys")),
            nulls_equal=bool(constraint.get("nulls_not_distinct")),
            primary=kind == "CONSTR_PRIMARY",
        )
        return Risk(file, line, table, ACCESS_EXCLUSIVE, index_build=True, check=check)
    name = constraint.get("conname", "")
    if kind == "CONSTR_CHECK":
        full = DataCheck("check", expression=deparse_check(text, index), name=name)
        lock, validation = ACCESS_EXCLUSIVE, "CHECK"
    elif kind == "CONSTR_FOREIGN":
        full = DataCheck(
            "foreign key",
            _names(constraint.get("fk_attrs")),
            references=table_name(constraint["pktable"]),
            ref_columns=_names(constraint.get("pk_attrs")),
            match_full=constraint.get("fk_matchtype") == "f",
            name=name,
        )
        lock, validation = SHARE_ROW_EXCLUSIVE, "FOREIGN KEY"
    else:
        return None
    if not_valid:  # checked when a later file validates it
        return Risk(file, line, table, lock, deferred=full)
    return Risk(file, line, table, lock, validation=validation, check=full)


REWRITING = {"AT_AlterColumnType", "AT_SetLogged", "AT_SetUnLogged", "AT_SetAccessMethod"}


def _volatile_default(column: dict) -> bool:
    """ADD COLUMN with a default that is a function call (PostgreSQL 11+ rewrites only for a volatile one;
    the proof's relfilenode tells for sure), a serial or identity column (filled from a sequence) or a
    generated STORED column."""
    if serial(column):
        return True
    for item in column.get("constraints", []):
        constraint = item.get("Constraint", {})
        if constraint.get("contype") in ("CONSTR_GENERATED", "CONSTR_IDENTITY"):
            return True
        if constraint.get("contype") == "CONSTR_DEFAULT" and "FuncCall" in constraint.get("raw_expr", {}):
            return True
    return False


def _alter_table(file: str, line: int, node: dict, text: str) -> list[Risk]:
    table = table_name(node.get("relation", {}))
    lock, rewrite, validation, found = SHARE_UPDATE_EXCLUSIVE, False, "", []
    for index, item in enumerate(node.get("cmds", [])):
        cmd = item.get("AlterTableCmd", {})
        subtype = cmd.get("subtype", "")
        level = LIGHTER.get(subtype, ACCESS_EXCLUSIVE)
        if (
            subtype == "AT_AddConstraint"
            and cmd.get("def", {}).get("Constraint", {}).get("contype") == "CONSTR_FOREIGN"
        ):
            level = SHARE_ROW_EXCLUSIVE
        lock = _stronger(lock, level)
        if (
            subtype in REWRITING
            or subtype == "AT_AddColumn"
            and _volatile_default(cmd.get("def", {}).get("ColumnDef", {}))
        ):
            rewrite = True
        elif subtype == "AT_SetNotNull":
            validation = "NOT NULL"
            found.append(
                Risk(
                    file,
                    line,
                    table,
                    ACCESS_EXCLUSIVE,
                    validation="NOT NULL",
                    check=DataCheck("notnull", (cmd.get("name", ""),)),
                )
            )
        elif subtype == "AT_AttachPartition":  # the partition is scanned under ACCESS EXCLUSIVE (its bound)
            found.append(Risk(file, line, table, SHARE_UPDATE_EXCLUSIVE))
            child = table_name(cmd.get("def", {}).get("PartitionCmd", {}).get("name", {}))
            bound = DataCheck("partition", references=table, bound=bound_text(text, index))
            found.append(Risk(file, line, child, ACCESS_EXCLUSIVE, validation=PARTITION, check=bound))
        elif subtype == "AT_ValidateConstraint":  # its rows are checked; its definition is found later
            validate = DataCheck("validate", name=cmd.get("name", ""))
            found.append(Risk(file, line, table, SHARE_UPDATE_EXCLUSIVE, check=validate))
        elif subtype == "AT_AddColumn":  # the value existing rows get, against the column's constraints
            for check, build in column_checks(cmd.get("def", {}).get("ColumnDef", {}), text, index):
                found.append(Risk(file, line, table, ACCESS_EXCLUSIVE, index_build=build, check=check))
        elif subtype == "AT_AddConstraint":
            risk = constraint_risk(file, line, table, cmd.get("def", {}).get("Constraint", {}), text, index)
            if risk:
                found.append(risk)
    if rewrite or not found:
        found.insert(0, Risk(file, line, table, lock, rewrite=rewrite, validation=validation if not found else ""))
    only = not node.get("relation", {}).get("inh")
    return [replace(r, lock=_stronger(lock, r.lock), only=only) for r in found]


def statement_risks(file: str, line: int, kind: str, node: dict, text: str) -> list[Risk]:
    """What one statement does to the tables it names (none for a statement that takes no table lock)."""
    if kind == "AlterTableStmt" and node.get("objtype", "OBJECT_TABLE") == "OBJECT_TABLE":
        return _alter_table(file, line, node, text)
    if kind == "RefreshMatViewStmt" and node.get("relation"):  # a new copy, or (CONCURRENTLY) a diff applied
        table = table_name(node["relation"])
        concurrent = bool(node.get("concurrent"))
        return [Risk(file, line, table, "EXCLUSIVE" if concurrent else ACCESS_EXCLUSIVE, rewrite=not concurrent)]
    if kind == "ClusterStmt" and node.get("relation"):
        return [Risk(file, line, table_name(node["relation"]), ACCESS_EXCLUSIVE, rewrite=True)]
    if kind == "VacuumStmt" and any(
        option.get("DefElem", {}).get("defname") == "full" and "arg" not in option["DefElem"]
        for option in node.get("options", [])
    ):  # VACUUM FULL: a new copy of each table under ACCESS EXCLUSIVE (a no-transaction file's statement)
        return [
            Risk(file, line, table_name(rel["VacuumRelation"]["relation"]), ACCESS_EXCLUSIVE, rewrite=True)
            for rel in node.get("rels", [])
            if rel.get("VacuumRelation", {}).get("relation")
        ]
    if kind == "ReindexStmt" and node.get("kind") == "REINDEX_OBJECT_TABLE" and node.get("relation"):
        concurrent = any(p.get("DefElem", {}).get("defname") == "concurrently" for p in node.get("params", []))
        table = table_name(node["relation"])
        if concurrent:
            return [Risk(file, line, table, SHARE_UPDATE_EXCLUSIVE, reindex=True)]
        return [Risk(file, line, table, SHARE, index_build=True, reindex=True)]
    if kind == "IndexStmt":
        table = table_name(node.get("relation", {}))
        concurrent = bool(node.get("concurrent"))
        check = index_check(node, text) if node.get("unique") else None
        return [
            Risk(
                file,
                line,
                table,
                SHARE_UPDATE_EXCLUSIVE if concurrent else SHARE,
                index_build=not concurrent,
                check=check,
                only=not node.get("relation", {}).get("inh"),
            )
        ]
    return []


def parsed(migration) -> tuple:
    """The file's statements with their parse trees: a split kept from an earlier proof
    (:mod:`tasks.migrations.parsed`) holds where each statement is, not its tree, so the file is parsed
    again (without its tree, a statement names no table: the gate and the data checks would see nothing)."""
    statements = tuple(migration.statements)
    if all(s.node or not s.kind for s in statements):
        return statements
    return split(migration.sql)


@functools.lru_cache(maxsize=4096)
def split(sql: str) -> tuple:
    """``sql`` split with its parse trees, once per text: the plan reads each file's trees three times."""
    from tasks.migrations.sqlsplit import split_statements

    return tuple(split_statements(sql))


COMPUTED_PATH = "the file sets search_path to a value computed when it runs, so which table it meets is not known"


def own_scopes(migration) -> list:
    """Where each statement's unqualified names go, from the file alone (no target read, no earlier file)."""
    from tasks.risk.names import scopes

    alone = frozenset([migration.filename] if getattr(migration, "no_transaction", False) else [])
    return scopes([(migration.filename, s.kind, s.node) for s in parsed(migration)], None, alone)[migration.filename]


def file_risks(migration, scopes: list | None = None) -> list[Risk]:
    """Every statement's risks of one migration file, marked accepted when the file says so; ``scopes``: where
    each statement's unqualified names go (:func:`tasks.risk.names.scopes`; without: the file's own
    search_path alone)."""
    ok = accepted(migration.sql)
    found = []
    statements = parsed(migration)
    if scopes is None:
        scopes = own_scopes(migration)
    for statement, scope in zip(statements, scopes, strict=True):
        for risk in statement_risks(migration.filename, statement.line, statement.kind, statement.node, statement.text):
            check, deferred = (
                replace(one, references=scope.qualify(one.references)) if one and one.references else one
                for one in (risk.check, risk.deferred)
            )
            if check is not None and scope.unknown:
                check = replace(check, inexact=COMPUTED_PATH)
            found.append(replace(risk, table=scope.qualify(risk.table), check=check, accepted=ok, deferred=deferred))
    return found
