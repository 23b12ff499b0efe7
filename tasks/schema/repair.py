"""
Drift, answered: the DDL that brings a drifted target back to the expected schema, for what can be
brought back without losing data, and the list of what cannot.

Repaired: an extra index, constraint or trigger is dropped; a missing (or changed) one is created
from the expected schema's own definition; a column's default and nullability are restored, and its
type where the expected type holds every value of the drifted one (a widening). Left out, and listed
as such: an extra table with rows, a missing table, a dropped or extra column, a narrowing type, and
objects of other kinds (views, functions, sequences, types, extensions). Pure: snapshots in, SQL out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tasks.schema.catalog import escaped
from tasks.schema.versions import SECURITY_AND_STORAGE

WIDENINGS = {
    ("smallint", "integer"),
    ("smallint", "bigint"),
    ("integer", "bigint"),
    ("smallint", "numeric"),
    ("integer", "numeric"),
    ("bigint", "numeric"),
    ("real", "double precision"),
    ("character varying", "text"),
    ("character", "text"),
}
PLAIN = re.compile(r"[a-z_][a-z0-9_$]*")


@dataclass(frozen=True)
class Repair:
    statements: tuple[str, ...]
    unrepairable: tuple[str, ...]  # one line each: the object and why it is left out

    def sql(self, header: str = "") -> str:
        """The file's text: a header of comments, the statements in one transaction, the unrepairable
        objects as comments. Every comment is escaped (:func:`comment`): a name holding a newline cannot
        end its comment line and smuggle a statement into the file."""
        lines = [comment(line) for line in header.split("\n")]
        lines += (
            ["BEGIN;", SEARCH_PATH, *self.statements, "COMMIT;"]
            if self.statements
            else [comment("nothing to repair by DDL")]
        )
        if self.unrepairable:
            lines.append(
                comment("Not repaired here (it would lose data, or needs a decision): fix by hand, or restore")
            )
            lines += [comment(f"  {line}") for line in self.unrepairable]
        return "\n".join(lines) + "\n"


# The definitions in a snapshot are PostgreSQL's own text, rendered where the search_path is ``public``
# (names outside it qualified); the file resolves them the same way whatever the session's or role's
# search_path is (pg_catalog is searched first, as always). The names this module writes are qualified.
SEARCH_PATH = "SET LOCAL search_path = public;\nSET LOCAL standard_conforming_strings = on;"


def still_empty(table: str) -> str:
    """A DO block that stops the transaction when ``table`` holds rows (written after the file was)."""
    message = f"table {escaped(table)} holds rows now: not dropped, nothing was changed".replace("'", "''")
    body = f"BEGIN IF EXISTS (SELECT FROM {qualified(table)}) THEN RAISE EXCEPTION '%', '{message}'; END IF; END"
    tag = "$pgc$"
    while tag in body:
        tag = tag[:-1] + "x$"
    return f"DO {tag}{body}{tag};"


def without_extras(expected: dict[str, Any], actual: dict[str, Any]) -> dict[str, Any]:
    """``actual`` without what only it has (tables, indexes, and a table's columns, constraints and
    triggers): the extras ALLOW_EXTRA_OBJECTS tolerates are not the repair's to drop."""
    want_tables, want_indexes = expected.get("tables") or {}, expected.get("indexes") or {}
    tables = {}
    for name, table in (actual.get("tables") or {}).items():
        if name not in want_tables:
            continue
        tables[name] = {
            **table,
            **{
                part: {k: v for k, v in (table.get(part) or {}).items() if k in (want_tables[name].get(part) or {})}
                for part in ("columns", "constraints", "triggers")
            },
        }
    indexes = {name: value for name, value in (actual.get("indexes") or {}).items() if name in want_indexes}
    return {**actual, "tables": tables, "indexes": indexes}


def comment(text: str) -> str:
    """One SQL comment line holding ``text``, escaped."""
    return f"-- {escaped(text)}".rstrip()


def ident(name: str) -> str:
    return name if PLAIN.fullmatch(name) else '"' + name.replace('"', '""') + '"'


def qualified(name: str) -> str:
    """``public.users`` → ``public.users``; each part quoted when it needs it."""
    schema, _, rest = name.partition(".")
    return f"{ident(schema)}.{ident(rest)}" if rest else ident(schema)


def _base(type_name: str) -> tuple[str, int | None]:
    match = re.fullmatch(r"(character varying|character|numeric|varchar)\((\d+)(?:,\d+)?\)", type_name)
    return (match.group(1), int(match.group(2))) if match else (type_name, None)


def widening(drifted: str, wanted: str) -> bool:
    """Whether every value of type ``drifted`` fits type ``wanted`` unchanged."""
    (old, old_n), (new, new_n) = _base(drifted), _base(wanted)
    if old == new:
        return new_n is None or (old_n is not None and new_n >= old_n)
    return (old, new) in WIDENINGS and new_n is None


def _indexes(expected: dict, actual: dict, drops: list[str], creates: list[str]) -> None:
    for name in sorted(set(expected) | set(actual)):
        want, have = expected.get(name), actual.get(name)
        if (want or {}).get("constraint") or (have or {}).get("constraint") or want == have:
            continue  # an index behind a constraint comes back with its constraint
        if have is not None:
            drops.append(f"DROP INDEX IF EXISTS {qualified(name)};")
        if want is not None:
            creates.append(want["definition"].rstrip(";") + ";")


def _table_parts(table: str, want: dict, have: dict, drops: list[str], creates: list[str], fks: list[str]) -> None:
    target = qualified(table)
    for kind in ("constraints", "triggers"):
        old, new = want.get(kind) or {}, have.get(kind) or {}
        for name in sorted(set(old) | set(new)):
            if old.get(name) == new.get(name):
                continue
            if name in new:
                what = "CONSTRAINT" if kind == "constraints" else "TRIGGER"
                drops.append(
                    f"ALTER TABLE {target} DROP CONSTRAINT IF EXISTS {ident(name)};"
                    if what == "CONSTRAINT"
                    else f"DROP TRIGGER IF EXISTS {ident(name)} ON {target};"
                )
            if name in old:
                if kind == "triggers":
                    creates.append(old[name]["definition"].rstrip(";") + ";")
                    continue
                add = f"ALTER TABLE {target} ADD CONSTRAINT {ident(name)} {old[name]['definition']};"
                (fks if old[name].get("type") == "foreign key" else creates).append(add)


def _columns(table: str, want: dict, have: dict, alters: list[str], left: list[str]) -> None:
    target = qualified(table)
    old, new = want.get("columns") or {}, have.get("columns") or {}
    for name in sorted(set(old) | set(new)):
        column = f"{table}.{name}"
        if name not in new:
            left.append(f"column {column} is missing: its data is gone; restore it from a backup")
            continue
        if name not in old:
            left.append(f"column {column} is extra: dropping it would lose its data")
            continue
        a, b = old[name], new[name]
        if a.get("type") != b.get("type"):
            if widening(b["type"], a["type"]):
                alters.append(f"ALTER TABLE {target} ALTER COLUMN {ident(name)} TYPE {a['type']};")
            else:
                left.append(f"column {column} is {b['type']}, expected {a['type']}: changing it back may lose data")
        if a.get("default") != b.get("default"):
            alters.append(
                f"ALTER TABLE {target} ALTER COLUMN {ident(name)} "
                + (f"SET DEFAULT {a['default']};" if a.get("default") is not None else "DROP DEFAULT;")
            )
        if a.get("not_null") != b.get("not_null"):
            alters.append(
                f"ALTER TABLE {target} ALTER COLUMN {ident(name)} "
                + ("SET NOT NULL;" if a.get("not_null") else "DROP NOT NULL;")
            )
        rest_a = {k: v for k, v in a.items() if k not in ("type", "default", "not_null", "position")}
        rest_b = {k: v for k, v in b.items() if k not in ("type", "default", "not_null", "position")}
        if rest_a != rest_b:
            left.append(f"column {column}: identity, generation or collation differs: not repaired here")


def _shape(table: dict) -> list[tuple[str, Any]]:
    columns = table.get("columns") or {}
    return sorted((name, column.get("type")) for name, column in columns.items() if isinstance(column, dict))


def _renamed(want: dict[str, Any], have: dict[str, Any]) -> dict[str, str]:
    """``{missing table: extra table}`` where the one extra table of the same columns (names and types)
    is most likely the missing one renamed by hand."""
    missing = [t for t in want if t not in have]
    extra = [t for t in have if t not in want]
    found: dict[str, str] = {}
    for table in missing:
        alike = [other for other in extra if _shape(have[other]) == _shape(want[table])]
        if len(alike) == 1 and alike[0] not in found.values():
            found[table] = alike[0]
    return found


def plan_repair(expected: dict[str, Any], actual: dict[str, Any], rows: dict[str, int] | None = None) -> Repair:
    """The repair of ``actual`` towards ``expected``; ``rows``: row counts of the actual tables (an extra
    empty table is dropped, one with rows or of unknown size is listed)."""
    drops: list[str] = []
    alters: list[str] = []
    creates: list[str] = []
    fks: list[str] = []
    left: list[str] = []
    want_tables, have_tables = expected.get("tables") or {}, actual.get("tables") or {}
    renamed = _renamed(want_tables, have_tables)
    for table in sorted(set(want_tables) | set(have_tables)):
        if table in renamed:
            left.append(
                f"table {table} is missing and table {renamed[table]} is extra with the same columns: "
                f"it looks renamed by hand: rename it back (ALTER TABLE {qualified(renamed[table])} "
                f"RENAME TO {ident(table.partition('.')[2] or table)}) if so"
            )
        elif table in renamed.values():
            continue  # named with the missing table it looks like
        elif table not in have_tables:
            left.append(f"table {table} is missing: restore it from a backup (its rows are gone)")
        elif table not in want_tables:
            count = (rows or {}).get(table)
            if count == 0:  # empty when planned; the file itself checks it still is before dropping it
                drops += [still_empty(table), f"DROP TABLE {qualified(table)};"]
            else:
                left.append(
                    f"table {table} is extra and holds {'rows' if count is None else f'{count} row(s)'}: "
                    "dropping it would lose them"
                )
        else:
            want, have = want_tables[table], have_tables[table]
            _table_parts(table, want, have, drops, creates, fks)
            _columns(table, want, have, alters, left)
            rest = ("kind", "unlogged", "partition_key", "partition_of", "partition_bound")
            if any(want.get(k) != have.get(k) for k in rest):
                left.append(f"table {table}: its kind, logging or partitioning differs: not repaired here")
            for key in SECURITY_AND_STORAGE:
                if (want.get(key) or None) != (have.get(key) or None):
                    left.append(
                        f"table {table}: its {key.replace('_', '-')} differs (row-level security, "
                        "policies, rules, statistics and storage options are not repaired here): fix by hand"
                    )
    _indexes(expected.get("indexes") or {}, actual.get("indexes") or {}, drops, creates)
    for kind in ("views", "functions", "sequences", "types", "extensions", "schemas"):
        old, new = expected.get(kind) or {}, actual.get(kind) or {}
        if isinstance(old, list) or isinstance(new, list):
            old, new = {k: True for k in old or []}, {k: True for k in new or []}
        for name in sorted(set(old) | set(new)):
            if old.get(name) != new.get(name):
                left.append(f"{kind[:-1]} {name} differs: not repaired here")
    # drops first (what is in the way), then the columns, then what is created (foreign keys last)
    return Repair(tuple(drops + alters + creates + fks), tuple(left))
