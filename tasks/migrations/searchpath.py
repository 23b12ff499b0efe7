"""
A migration file's own ``search_path``, read from its statements as PostgreSQL's parser (pglast) split
them: ``SET [LOCAL] search_path TO a, b`` and pg_dump's ``SELECT pg_catalog.set_config('search_path',
'a, b', false)``. Pure. The whole list is kept, ``"$user"`` included: PostgreSQL looks an unqualified
table up in each schema in turn and creates one in the first schema that exists.
"""

from __future__ import annotations

USER = "$user"  # the session's user, as PostgreSQL spells it in a search_path
ROLES_OWN: tuple[str, ...] = ()  # no SET in the file (or RESET): the session's own search_path
NOWHERE = ("",)  # set to '': no schema (only qualified names resolve)
UNKNOWN = ("\x00",)
TRUE = (
    "true",
    "t",
    "on",
    "yes",
    "y",
    "1",
)  # a boolean's text that means true  # set to a value computed when the file runs (no schema's name holds NUL)


def path_of(node: dict, before: tuple[str, ...], in_transaction: bool = True) -> tuple[str, ...]:
    """The search_path after the statement ``node`` ({kind: body}), given the one ``before`` it;
    ``in_transaction``: the file runs in one transaction (else a ``SET LOCAL`` has no effect)."""
    if "SelectStmt" in node:
        found = set_config_call(node["SelectStmt"])
        if found is None or (found[1] and not in_transaction):
            return UNKNOWN if found is None and _hides_a_change(node) else before
        return found[0]
    if _hides_a_change(node):
        return UNKNOWN
    if node.get("DiscardStmt", {}).get("target") == "DISCARD_ALL":
        return ROLES_OWN
    body = node.get("VariableSetStmt")
    if body and body.get("kind") == "VAR_RESET_ALL":
        return ROLES_OWN
    if not body or body.get("name") != "search_path" or (body.get("is_local") and not in_transaction):
        return before
    if body.get("kind") != "VAR_SET_VALUE":
        return ROLES_OWN  # RESET / SET ... TO DEFAULT
    values = (arg.get("A_Const", {}).get("sval", {}).get("sval") for arg in body.get("args", []))
    return tuple(value for value in values if value) or NOWHERE


def set_config_path(node: dict) -> tuple[str, ...] | None:
    """The list of ``SELECT set_config('search_path', 'app, public', false)`` (pg_dump's form), ``UNKNOWN``
    when the value is not a literal, else None (not a set_config of search_path)."""
    found = set_config_call(node)
    return None if found is None else found[0]


def set_config_call(node: dict) -> tuple[tuple[str, ...], bool] | None:
    """(list, is_local) of a SELECT that only calls ``set_config('search_path', …)`` (the setting's name in
    any case), else None."""
    targets = node.get("targetList", [])
    if set(node) - {"targetList", "limitOption", "op"} or not targets:
        return None  # FROM, WHERE, LIMIT, INTO …: whether (and how often) it runs is the data's
    found = None
    for target in targets:
        call = target.get("ResTarget", {}).get("val", {}).get("FuncCall", {})
        constants = [a.get("A_Const", {}) for a in call.get("args", [])]
        args = [c.get("sval", {}).get("sval") for c in constants]
        function = call.get("funcname", [{}])[-1].get("String", {}).get("sval") if call else None
        if function != "set_config" or len(args) != 3 or (args[0] or "").lower() != "search_path":
            return None
        local = constants[2].get("boolval", {}).get("boolval", False) or (args[2] or "").lower() in TRUE
        found = (UNKNOWN if args[1] is None else _list(args[1])), bool(local)
    return found


def _hides_a_change(node: dict) -> bool:
    """Whether the statement may change the search_path in a way the file's text does not say: a
    ``set_config`` of it anywhere but a plain SELECT (EXPLAIN ANALYZE, CREATE TABLE AS, a WHERE or LIMIT), an
    UPDATE of ``pg_settings``, or a DO block that names it."""
    ((kind, body),) = node.items()
    if kind == "DoStmt":
        return "search_path" in repr(body).lower()
    if kind == "UpdateStmt" and body.get("relation", {}).get("relname") == "pg_settings":
        return True
    return any(_sets_the_path(call) for call in _calls(body))


def _calls(node):
    if isinstance(node, dict):
        if "FuncCall" in node:
            yield node["FuncCall"]
        for value in node.values():
            yield from _calls(value)
    elif isinstance(node, list):
        for item in node:
            yield from _calls(item)


def _sets_the_path(call: dict) -> bool:
    """A call of set_config whose setting is search_path (or not a literal)."""
    if call.get("funcname", [{}])[-1].get("String", {}).get("sval") != "set_config" or not call.get("args"):
        return False
    name = call["args"][0].get("A_Const", {}).get("sval", {}).get("sval")
    return name is None or name.lower() == "search_path"


def _list(value: str) -> tuple[str, ...]:
    return tuple(entry for entry in map(_entry, value.split(",")) if entry) or NOWHERE


def _entry(text: str) -> str:
    """One entry of a search_path string: ``"My Schema"`` → ``My Schema``, `` App `` → ``app``."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('""', '"')
    return text.lower()


def first_named(path: tuple[str, ...]) -> str:
    """The first entry other than ``"$user"`` ('' : none)."""
    return next((entry for entry in path if entry not in (USER, *UNKNOWN)), "")
