"""
Statements a migration file may not hold, found in the parse tree (not by spelling). Pure.

* Changing ``standard_conforming_strings`` (``SET``/``RESET``, ``set_config()``, ``ALTER ROLE|DATABASE
  ... SET``): the file is split with it on; the server would split the rest of the file, and every
  later session of the role, differently.
* ``pg_advisory_unlock*()``: it would let go of the deploy's lock, so a second deploy could apply
  the same file again.
"""

from __future__ import annotations

from typing import Iterator

PARSING_SETTINGS = ("standard_conforming_strings",)
UNLOCK_FUNCTIONS = ("pg_advisory_unlock", "pg_advisory_unlock_all", "pg_advisory_unlock_shared")


def _walk(node) -> Iterator[tuple[str, dict]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, dict):
                yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _set_name(kind: str, node: dict) -> str | None:
    if kind == "VariableSetStmt":
        return node.get("name")
    if kind in ("AlterRoleSetStmt", "AlterDatabaseSetStmt"):
        return (node.get("setstmt") or {}).get("name")
    return None


def _constant_text(node: dict) -> str | None:
    return ((node.get("A_Const") or {}).get("sval") or {}).get("sval")


def forbidden(kind: str, node: dict) -> str | None:
    """Why the statement (its parse node ``kind`` and fields) may not be in a migration, or None."""
    name = _set_name(kind, node)
    if name and name.lower() in PARSING_SETTINGS:
        return (f"changing {name} is not allowed: files are parsed with it on, in every session of the tool; "
                "remove the statement and write strings that need no backslash escapes (or E'...')")
    for key, child in _walk({kind: node}):
        if key != "FuncCall":
            continue
        function = child["funcname"][-1]["String"]["sval"].lower()
        if function in UNLOCK_FUNCTIONS:
            return f"{function}() would let go of the deploy's lock (two deploys could apply a file twice): remove it"
        args = child.get("args") or []
        if function == "set_config" and args and (_constant_text(args[0]) or "").lower() in PARSING_SETTINGS:
            return (f"changing {_constant_text(args[0])} is not allowed: files are parsed with it on, in every "
                    "session of the tool; remove the statement")
    return None
