"""
The data checks the parse tree gives beyond a column list (pglast, PostgreSQL's own parser; pure): a
unique index over expressions or with a predicate, UNIQUE NULLS NOT DISTINCT, ADD COLUMN … NOT NULL
without a default, and VALIDATE CONSTRAINT, whose definition is that of the NOT VALID constraint an
earlier pending file adds, or else the target's own (``pg_get_constraintdef``, parsed the same way).
"""

from __future__ import annotations

from dataclasses import dataclass

SERIAL = {"serial", "serial4", "bigserial", "serial8", "smallserial", "serial2"}


@dataclass(frozen=True)
class DataCheck:
    """Rows that would make the statement fail: ``kind`` notnull, unique, check, foreign key, new notnull
    (ADD COLUMN … NOT NULL), new column (of a NOT NULL domain), partition (ATTACH PARTITION's bound) or
    validate (VALIDATE CONSTRAINT ``name``: its definition is
    found later, in an earlier pending file or the target's catalog)."""

    kind: str
    columns: tuple[str, ...] = ()
    expression: str = ""  # CHECK: the condition, deparsed by pglast
    references: str = ""  # FOREIGN KEY: the referenced table as written
    ref_columns: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()  # unique: each key as SQL (expressions deparsed by pglast); () : the columns
    where: str = ""  # unique: a partial index's predicate, deparsed by pglast
    nulls_equal: bool = False  # unique: NULLS NOT DISTINCT (PostgreSQL 15+): NULLs are duplicates too
    primary: bool = False  # unique: a PRIMARY KEY, which no NULL key may enter either
    match_full: bool = False  # FOREIGN KEY … MATCH FULL: a partly NULL key fails too
    name: str = ""  # validate: the constraint's name
    inexact: str = ""  # why no exact count can be made (said, not guessed)
    bound: str = ""  # partition: ATTACH PARTITION's bound (FOR VALUES …), deparsed by pglast
    domain: str = ""  # new notnull: counted only if this type is a NOT NULL domain of the target's
    parent_empty: bool = False  # FOREIGN KEY: the parent is made in this run, and nothing has filled it yet


def _ident(name: str) -> str:
    from psycopg import sql

    return sql.Identifier(name).as_string(None)


def serial(column: dict) -> bool:
    """A ColumnDef (JSON) of a serial type: filled from a sequence."""
    names = [item["String"]["sval"] for item in column.get("typeName", {}).get("names", []) if "String" in item]
    return bool(names) and names[-1].lower() in SERIAL


def column_checks(column: dict, text: str, index: int) -> list[tuple[DataCheck, bool]]:
    """ADD COLUMN (the ``index``-th subcommand of the ALTER TABLE ``text``): the checks of its inline
    constraints (NOT NULL, PRIMARY KEY, UNIQUE, CHECK, REFERENCES) and of its type (a NOT NULL domain), each
    with whether it builds an index. They are counted over the target's rows with the value the new column
    gives them (its default, or NULL: :mod:`tasks.risk.runstate`)."""
    name = column.get("colname", "")
    found: list[tuple[DataCheck, bool]] = []
    notnull = False
    for position, item in enumerate(column.get("constraints", [])):
        constraint = item.get("Constraint", {})
        kind = constraint.get("contype")
        if kind == "CONSTR_NOTNULL":
            notnull = True
        elif kind in ("CONSTR_PRIMARY", "CONSTR_UNIQUE"):
            notnull = notnull or kind == "CONSTR_PRIMARY"
            nulls = bool(constraint.get("nulls_not_distinct"))
            found.append((DataCheck("unique", (name,), nulls_equal=nulls, primary=kind == "CONSTR_PRIMARY"), True))
        elif kind == "CONSTR_CHECK":
            found.append((DataCheck("check", expression=_column_check(text, index, position)), False))
        elif kind == "CONSTR_FOREIGN":
            from tasks.risk.classify import table_name

            refs = tuple(i["String"]["sval"] for i in constraint.get("pk_attrs", []) if "String" in i)
            full = constraint.get("fk_matchtype") == "f"
            found.append(
                (
                    DataCheck(
                        "foreign key",
                        (name,),
                        references=table_name(constraint["pktable"]),
                        ref_columns=refs,
                        match_full=full,
                    ),
                    False,
                )
            )
    found.insert(0, (DataCheck("new notnull" if notnull else "new column", (name,)), False))
    return found


def _column_check(text: str, index: int, position: int) -> str:
    from pglast import parse_sql
    from pglast.stream import RawStream

    stmt = parse_sql(text)[0].stmt
    return RawStream()(stmt.cmds[index].def_.constraints[position].raw_expr)


def index_check(node: dict, text: str) -> DataCheck:
    """CREATE UNIQUE INDEX (``text``, its tree ``node``): keys as SQL (an expression deparsed by pglast, a
    COLLATE kept), a partial index's predicate, NULLS NOT DISTINCT. An operator class of its own decides
    what is equal: no exact count then."""
    from pglast import parse_sql
    from pglast.stream import RawStream

    stmt = parse_sql(text)[0].stmt
    keys, names, inexact = [], [], ""
    for elem in stmt.indexParams or ():
        key = "c." + _ident(elem.name) if elem.name else "(" + RawStream()(elem.expr) + ")"
        if elem.collation:
            key += " COLLATE " + ".".join(_ident(part.sval) for part in elem.collation)
        if elem.opclass:
            inexact = f"its operator class {'.'.join(p.sval for p in elem.opclass)} decides which keys are equal"
        keys.append(key)
        names.append(elem.name or RawStream()(elem.expr))
    return DataCheck(
        "unique",
        tuple(names),
        keys=tuple(keys),
        where=RawStream()(stmt.whereClause) if stmt.whereClause else "",
        nulls_equal=bool(node.get("nulls_not_distinct")),
        inexact=inexact,
    )


def definition_check(table: str, name: str, definition: str) -> DataCheck | None:
    """The check of VALIDATE CONSTRAINT ``name`` from the target's ``pg_get_constraintdef`` (``CHECK (…) NOT
    VALID``, ``FOREIGN KEY (…) REFERENCES … NOT VALID``), parsed as the ALTER TABLE that would add it."""
    from pglast import parser

    from tasks.risk.classify import constraint_risk

    text = f"ALTER TABLE {table} ADD CONSTRAINT {_ident(name)} {definition}"
    try:
        import json

        stmt = json.loads(parser.parse_sql_json(text))["stmts"][0]["stmt"]["AlterTableStmt"]
    except (parser.ParseError, KeyError, IndexError, ValueError):
        return None
    constraint = dict(stmt["cmds"][0]["AlterTableCmd"]["def"]["Constraint"])
    constraint.pop("skip_validation", None)
    risk = constraint_risk("", 0, table, constraint, text, 0)
    return risk.check if risk else None


DEFINITIONS_SQL = """
SELECT t.name, t.con, pg_catalog.pg_get_constraintdef(k.oid)
  FROM unnest({names}::text[], {cons}::text[]) AS t(name, con)
  JOIN pg_catalog.pg_constraint k ON k.conrelid = to_regclass(t.name) AND k.conname = t.con
"""


def definitions_sql(wanted: list[tuple[str, str]]) -> str:
    """The target's definitions of these (table as SQL writes it, constraint name) pairs."""
    from psycopg import sql

    pairs = sorted(set(wanted))
    return (
        sql.SQL(DEFINITIONS_SQL)
        .format(names=sql.Literal([t for t, _ in pairs]), cons=sql.Literal([c for _, c in pairs]))
        .as_string(None)
    )


def parse_definitions(rows: list[list[str]]) -> dict[tuple[str, str], str]:
    return {(table, name): definition for table, name, definition in rows}
