"""
Catalog snapshots and their diff.

:data:`SNAPSHOT_SQL` (``catalog.sql``) returns the whole schema as one JSON document; it runs
through psycopg (the shadow database) or psql (the target fact). :func:`diff` compares two
snapshots and returns one readable line per added, removed or changed object. Pure apart from
:func:`snapshot`.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SNAPSHOT_SQL = (Path(__file__).with_name("catalog.sql")).read_text()
CATEGORIES = ("extensions", "schemas", "types", "sequences", "tables", "indexes", "views", "functions")
TABLE_PARTS = ("columns", "constraints", "triggers")
SINGULAR = {
    "extensions": "extension",
    "schemas": "schema",
    "types": "type",
    "sequences": "sequence",
    "tables": "table",
    "indexes": "index",
    "views": "view",
    "functions": "function",
    "columns": "column",
    "constraints": "constraint",
    "triggers": "trigger",
}


def escaped(text: str) -> str:
    """``text`` with every control, format, line or paragraph separator character written as ``\\x1b`` or
    ``\\uXXXX`` (as :mod:`tasks.core.shown` writes them) and a backslash doubled: one printable line, for a
    comment or a terminal."""
    return "".join(
        "\\\\"
        if ch == "\\"
        else (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn")
        else ch
        for ch in text
    )


def snapshot(conn) -> dict[str, Any]:
    """Read the snapshot with an open psycopg connection."""
    return json.loads(conn.execute(SNAPSHOT_SQL).fetchone()[0])


def _short_table(name: str) -> str:
    return name.removeprefix("public.")


@dataclass(frozen=True)
class Difference:
    """One object that differs: ``sign`` is ``+`` (only in actual), ``-`` (only in expected) or ``~``."""

    sign: str
    kind: str  # singular: table, column, index, ...
    name: str
    text: str  # the readable line

    def as_dict(self) -> dict[str, str]:
        return {
            "change": {"+": "extra", "-": "missing", "~": "changed"}[self.sign],
            "kind": self.kind,
            "name": self.name,
            "line": self.text,
        }


def _describe(kind: str, name: str, value: Any) -> str:
    name = _short_table(name)
    if kind == "indexes":
        definition = value["definition"]
        on = definition.find(" ON ")
        return f"index {name}{definition[on:] if on >= 0 else ''}"
    if kind == "columns":
        text = f"{value['type']}{' NOT NULL' if value.get('not_null') else ''}"
        if value.get("default"):
            text += f" DEFAULT {value['default']}"
        return f"column {name} {text}"
    if kind == "constraints":
        return f"{value['type']} {name}: {value['definition']}"
    if kind == "types":
        return f"{value.get('kind') or 'type'} {name}"
    if kind == "views":
        return f"{value['kind']} {name}"
    return f"{SINGULAR[kind]} {name}"


def _changed(kind: str, name: str, old: Any, new: Any) -> list[Difference]:
    short = _short_table(name)
    if not isinstance(old, dict) or not isinstance(new, dict):
        return [Difference("~", SINGULAR[kind], name, f"~ {SINGULAR[kind]} {short}: {old} → {new}")]
    parts = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if key == "definition" or len(str(before)) > 60 or len(str(after)) > 60:
            parts.append(f"{key} differs")
        else:
            parts.append(f"{key} {before} → {after}")
    return [Difference("~", SINGULAR[kind], name, f"~ {SINGULAR[kind]} {short}: {', '.join(parts)}")]


def _backs_constraint(kind: str, value: Any) -> bool:
    """An index made by a primary key, unique or exclusion constraint is reported through the constraint."""
    return kind == "indexes" and isinstance(value, dict) and bool(value.get("constraint"))


def set_aside_names(entries: list[str]) -> frozenset[str]:
    """Pure: the data copy's journal entries (``kind:schema.name``, ``kind:schema.table.name``) as
    :func:`differences` names the objects: ``index:schema.name``, ``constraint:table.name``."""
    names = set()
    for entry in entries:
        kind, _, name = entry.partition(":")
        if kind in ("index", "keyindex"):  # a key's index built, its constraint not yet on it: "~ index"
            names.add(f"index:{name}")
        elif kind == "key":
            names.add(f"constraint:{_short_table(name)}")
        elif kind in ("fkey", "notvalid", "trigger"):
            names.add(f"{'trigger' if kind == 'trigger' else 'constraint'}:{_short_table(name)}")
    return frozenset(names)


def set_aside(found: list[Difference], names: frozenset[str]) -> list[Difference]:
    """Pure: the differences an interrupted data copy explains (``names``, :func:`set_aside_names`):
    its indexes and foreign keys missing, a key not validated yet, a trigger still disabled."""
    return [d for d in found if d.sign in "-~" and f"{d.kind}:{d.name}" in names]


def _diff_mapping(kind: str, expected: dict, actual: dict, prefix: str = "") -> list[Difference]:
    found = []
    for name in sorted(set(expected) | set(actual)):
        full = f"{prefix}{name}"
        if name not in actual:
            if not _backs_constraint(kind, expected[name]):
                found.append(Difference("-", SINGULAR[kind], full, f"- {_describe(kind, full, expected[name])}"))
        elif name not in expected:
            if not _backs_constraint(kind, actual[name]):
                found.append(Difference("+", SINGULAR[kind], full, f"+ {_describe(kind, full, actual[name])}"))
        elif expected[name] != actual[name]:
            found.extend(_changed(kind, full, expected[name], actual[name]))
    return found


def differences(expected: dict[str, Any], actual: dict[str, Any]) -> list[Difference]:
    """Every object that ``actual`` has more (+), lacks (-) or has otherwise (~) than ``expected``
    (what only the server's major version shows differently is not a difference: :mod:`versions`)."""
    from tasks.schema.versions import normalize_pair, save_views

    expected, actual = normalize_pair(expected, actual)
    save_views()
    found: list[Difference] = []
    for kind in CATEGORIES:
        old, new = expected.get(kind) or {}, actual.get(kind) or {}
        if isinstance(old, list) or isinstance(new, list):
            old, new = {k: True for k in old or []}, {k: True for k in new or []}
        if kind != "tables":
            found.extend(_diff_mapping(kind, old, new))
            continue
        for table in sorted(set(old) | set(new)):
            if table not in new or table not in old:
                found.extend(
                    _diff_mapping(
                        kind, {table: old[table]} if table in old else {}, {table: new[table]} if table in new else {}
                    )
                )
                continue
            for part in TABLE_PARTS:
                found.extend(
                    _diff_mapping(
                        part, old[table].get(part) or {}, new[table].get(part) or {}, prefix=f"{_short_table(table)}."
                    )
                )
            rest_old = {k: v for k, v in old[table].items() if k not in TABLE_PARTS}
            rest_new = {k: v for k, v in new[table].items() if k not in TABLE_PARTS}
            if rest_old != rest_new:
                found.extend(_changed(kind, table, rest_old, rest_new))
    return [Difference(d.sign, d.kind, d.name, escaped(d.text)) for d in found]  # a name's newline stays on its line


def diff(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """:func:`differences` as readable lines."""
    return [d.text for d in differences(expected, actual)]
