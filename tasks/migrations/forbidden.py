"""
Statements a migration file may not hold, found in the parse tree (not by spelling). Pure.

* Turning ``standard_conforming_strings`` off (``SET``, ``set_config()``, ``ALTER ROLE|DATABASE ...
  SET``; any value but on): the file is split with it on; the server would split the rest of the
  file, and every later session of the role, differently. ``= on`` (pg_dump's header) is accepted.
* ``pg_advisory_unlock*()``: it would let go of the deploy's lock, so a second deploy could apply
  the same file again.
"""

from __future__ import annotations

from collections.abc import Iterator

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


ON = ("on", "true", "yes", "1")


def _turned_off(kind: str, node: dict) -> str | None:
    """The setting a SET (or ALTER ROLE|DATABASE ... SET) gives a value other than on, or None.
    RESET and DEFAULT return to the session's pinned value (on), so they are harmless."""
    if kind in ("AlterRoleSetStmt", "AlterDatabaseSetStmt"):
        node = node.get("setstmt") or {}
    elif kind != "VariableSetStmt":
        return None
    if node.get("kind") != "VAR_SET_VALUE":
        return None
    values = [_constant_text(arg) or str(((arg.get("A_Const") or {}).get("ival") or {}).get("ival", 0))
              for arg in node.get("args") or []]
    return node.get("name") if values != [] and any(v.lower() not in ON for v in values) else None


def _constant_text(node: dict) -> str | None:
    return ((node.get("A_Const") or {}).get("sval") or {}).get("sval")


def forbidden(kind: str, node: dict) -> str | None:
    """Why the statement (its parse node ``kind`` and fields) may not be in a migration, or None."""
    name = _turned_off(kind, node)
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
        if (function == "set_config" and len(args) > 1 and (_constant_text(args[0]) or "").lower() in PARSING_SETTINGS
                and (_constant_text(args[1]) or "").lower() not in ON):
            return (f"changing {_constant_text(args[0])} is not allowed: files are parsed with it on, in every "
                    "session of the tool; remove the statement")
    return None
