"""
Statements a migration file may not hold, found in the parse tree (not by spelling). Pure.

* Turning ``standard_conforming_strings`` off (``SET``, ``set_config()``, ``ALTER ROLE|DATABASE ...
  SET``; any value but on): the file is split with it on; the server would split the rest of the
  file, and every later session of the role, differently. ``= on`` (pg_dump's header) is accepted.
* ``pg_advisory_unlock*()``: it would let go of the deploy's lock, so a second deploy could apply
  the same file again.
* A write to the tool's own ``public.schema_migrations`` (INSERT, UPDATE, DELETE, MERGE, COPY FROM,
  TRUNCATE, ALTER, RENAME, DROP, a trigger or rule on it, in any spelling or CTE) or ``DROP SCHEMA
  public CASCADE``: the history would no longer say what was applied, and every later run breaks.
* ``COPY ... FROM STDIN`` / ``TO STDOUT``: the file is SQL, not a data stream; the tool's session
  would wait for rows that never come.
"""

from __future__ import annotations

from collections.abc import Iterator

PARSING_SETTINGS = ("standard_conforming_strings",)
UNLOCK_FUNCTIONS = ("pg_advisory_unlock", "pg_advisory_unlock_all", "pg_advisory_unlock_shared")
TRACKING_SCHEMA, TRACKING_TABLE = "public", "schema_migrations"
RELATION_DROPS = ("OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW", "OBJECT_FOREIGN_TABLE")
# Parse nodes that change the relation(s) they name (``relation`` or ``relations``).
WRITING_KINDS = {
    "InsertStmt": "INSERT INTO",
    "UpdateStmt": "UPDATE",
    "DeleteStmt": "DELETE FROM",
    "MergeStmt": "MERGE INTO",
    "TruncateStmt": "TRUNCATE",
    "AlterTableStmt": "ALTER TABLE",
    "RenameStmt": "ALTER TABLE ... RENAME",
    "AlterObjectSchemaStmt": "ALTER TABLE ... SET SCHEMA",
    "CreateTrigStmt": "CREATE TRIGGER ON",
    "RuleStmt": "CREATE RULE ON",
    "CreatePolicyStmt": "CREATE POLICY ON",
    "CopyStmt": "COPY ... FROM into",
}


def _walk(node) -> list[tuple[str, dict]]:
    """Every (field name, dict) pair of a parse tree, in the tree's order (parents before children)."""
    found: list[tuple[str, dict]] = []
    _collect(node, found)
    return found


def _collect(node, found: list[tuple[str, dict]]) -> None:
    if type(node) is dict:
        for key, value in node.items():
            if type(value) is dict:
                found.append((key, value))
                _collect(value, found)
            elif type(value) is list:
                _collect(value, found)
    elif type(node) is list:
        for item in node:
            if type(item) is dict or type(item) is list:
                _collect(item, found)


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
    values = [
        _constant_text(arg) or str(((arg.get("A_Const") or {}).get("ival") or {}).get("ival", 0))
        for arg in node.get("args") or []
    ]
    return node.get("name") if values != [] and any(v.lower() not in ON for v in values) else None


def _constant_text(node: dict) -> str | None:
    return ((node.get("A_Const") or {}).get("sval") or {}).get("sval")


def _is_tracking_table(names: list[str | None]) -> bool:
    """``[schema, table]`` (schema None when unqualified) names the tool's history table."""
    *schema, table = names
    return table == TRACKING_TABLE and (not schema or schema[-1] in (None, TRACKING_SCHEMA))


def _range_vars(child: dict) -> Iterator[dict]:
    if isinstance(child.get("relation"), dict):
        yield child["relation"]
    for item in child.get("relations") or []:
        if isinstance(item, dict) and "RangeVar" in item:
            yield item["RangeVar"]


def _strings(node: dict) -> list[str | None]:
    items = (node.get("List") or {}).get("items", [node])
    return [(item.get("String") or {}).get("sval") for item in items]


def touches_history(kind: str, node: dict, nodes: list[tuple[str, dict]] | None = None) -> str | None:
    """What the statement would do to the history table (``DELETE FROM public.schema_migrations``), or None
    (``nodes``: the statement's :func:`_walk`, when the caller has it)."""
    for key, child in _walk({kind: node}) if nodes is None else nodes:
        if key == "CopyStmt" and not child.get("is_from"):
            continue
        if key in WRITING_KINDS and any(
            _is_tracking_table([rel.get("schemaname"), rel.get("relname")]) for rel in _range_vars(child)
        ):
            return f"{WRITING_KINDS[key]} public.{TRACKING_TABLE}"
        if key == "DropStmt":
            names = [_strings(item) for item in child.get("objects") or [] if isinstance(item, dict)]
            if child.get("removeType") == "OBJECT_SCHEMA":
                if child.get("behavior") == "DROP_CASCADE" and [TRACKING_SCHEMA] in names:
                    return f"DROP SCHEMA public CASCADE (it drops public.{TRACKING_TABLE})"
            elif child.get("removeType") in RELATION_DROPS and any(_is_tracking_table(name) for name in names if name):
                return f"DROP {drop_kind(child['removeType'])} public.{TRACKING_TABLE}"
    return None


def drop_kind(remove_type: str) -> str:
    """``OBJECT_TABLE`` -> ``TABLE``: the object kind a DROP names."""
    return remove_type.removeprefix("OBJECT_").replace("_", " ")


def copy_stdin_reason(way: str) -> str:
    """Why ``COPY ... FROM STDIN`` (or ``TO STDOUT``) may not be in a migration."""
    return (
        f"COPY ... {way} is not allowed: a migration is SQL, not a data stream (the tool's session would "
        "wait for rows that never come); put rows in a seed file or write INSERT ... VALUES"
    )


def forbidden(kind: str, node: dict) -> str | None:
    """Why the statement (its parse node ``kind`` and fields) may not be in a migration, or None."""
    nodes = _walk({kind: node})  # walked once: the tree of a long statement is big
    action = touches_history(kind, node, nodes)
    if action:
        return (
            f"{action} is not allowed: public.{TRACKING_TABLE} is pgconverge's record of what was applied, "
            "and every later run reads it; remove the statement (the tool keeps the table itself)"
        )
    if kind == "CopyStmt" and not node.get("filename") and not node.get("is_program"):
        return copy_stdin_reason("FROM STDIN" if node.get("is_from") else "TO STDOUT")
    role = (node.get("authrole") or {}).get("roletype", "") if kind == "CreateSchemaStmt" else ""
    if kind == "CreateSchemaStmt" and not node.get("schemaname") and role != "ROLESPEC_CSTRING":
        return (
            "CREATE SCHEMA AUTHORIZATION CURRENT_USER (or SESSION_USER, CURRENT_ROLE) without a schema name is "
            "not allowed: the schema would be named after whoever runs the file, another role in the proof than "
            "on the target; name the schema (CREATE SCHEMA name AUTHORIZATION CURRENT_USER)"
        )
    name = _turned_off(kind, node)
    if name and name.lower() in PARSING_SETTINGS:
        return (
            f"changing {name} is not allowed: files are parsed with it on, in every session of the tool; "
            "remove the statement and write strings that need no backslash escapes (or E'...')"
        )
    for key, child in nodes:
        if key != "FuncCall":
            continue
        function = child["funcname"][-1]["String"]["sval"].lower()
        if function in UNLOCK_FUNCTIONS:
            return f"{function}() would let go of the deploy's lock (two deploys could apply a file twice): remove it"
        args_text = [
            (((a.get("FuncCall") or {}).get("funcname") or [{}])[-1].get("String") or {}).get("sval")
            for a in child.get("args") or []
        ]
        if function in ("pg_terminate_backend", "pg_cancel_backend") and "pg_backend_pid" in args_text:
            return f"{function}(pg_backend_pid()) would end the tool's own session in the middle of the file: remove it"
        args = child.get("args") or []
        if (
            function == "set_config"
            and len(args) > 1
            and (_constant_text(args[0]) or "").lower() in PARSING_SETTINGS
            and (_constant_text(args[1]) or "").lower() not in ON
        ):
            return (
                f"changing {_constant_text(args[0])} is not allowed: files are parsed with it on, in every "
                "session of the tool; remove the statement"
            )
    return None
