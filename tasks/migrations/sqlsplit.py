"""
Split SQL text into statements with PostgreSQL's own parser (libpg_query, through ``pglast``).

Statement boundaries, quoting (strings, ``E''``, quoted identifiers, dollar tags of any Unicode),
nested comments and ``BEGIN ATOMIC`` bodies are PostgreSQL's, not ours. Each statement keeps the
line of its first token (a comment before it is not part of it) and its parse tree's node, so the
caller classifies statements by what they are, not by how they are spelled. A psql meta-command
(a backslash outside any string or comment), a scan or a syntax error is a :class:`SqlError` naming
the line. The tree comes as libpg_query's JSON (ten times faster than pglast's Python objects), whose
offsets are bytes in UTF-8: they are turned into characters here. Pure; no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import pairwise

from tasks.core.errors import ActionableError

COMMENTS = ("SQL_COMMENT", "C_COMMENT")
BACKSLASH = "ASCII_92"


class SqlError(ActionableError, ValueError):
    """The text is not plain SQL that PostgreSQL parses: ``line`` (1-based) and a message."""

    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


@dataclass(frozen=True)
class Statement:
    text: str  # from its first token to its end, without the semicolon
    line: int  # 1-based line of its first token in the file
    offset: int  # 0-based character offset of its first token
    kind: str = ""  # the parse node's name, e.g. ``CreateStmt``, ``TransactionStmt``, ``VariableSetStmt``
    node: dict = field(default_factory=dict, compare=False, repr=False)  # its fields (libpg_query's JSON)


def line_of(sql: str, offset: int) -> int:
    """1-based line number of a 0-based character offset; a line ends as in editors: CRLF, LF or a lone CR."""
    end = max(0, offset)
    return sql.count("\n", 0, end) + sql.count("\r", 0, end) - sql.count("\r\n", 0, end) + 1


def _meta_command(sql: str, start: int) -> str:
    end = start + 1
    while end < len(sql) and not sql[end].isspace():
        end += 1
    return sql[start:end]


def _copy_from_stdin_before(tokens: list) -> int | None:
    """The offset of the last ``COPY ... FROM STDIN`` among ``tokens`` (its rows then follow), or None."""
    starts = [i for i, token in enumerate(tokens) if token.name == "COPY"]
    if not starts:
        return None
    statement = []
    for token in tokens[starts[-1] :]:
        if token.name == "ASCII_59":  # ";"
            break
        statement.append(token.name)
    found = any(a == "FROM" and b == "STDIN" for a, b in pairwise(statement))
    return tokens[starts[-1]].start if found else None


def _refuse_meta_commands(sql: str, tokens: list) -> None:
    for index, token in enumerate(tokens):
        if token.name == BACKSLASH:
            copy = _copy_from_stdin_before(tokens[:index])
            if copy is not None:  # the rows of a COPY FROM STDIN, ended by \.: the COPY is what to name
                from tasks.migrations.forbidden import copy_stdin_reason

                raise SqlError(line_of(sql, copy), copy_stdin_reason("FROM STDIN"))
            command = _meta_command(sql, token.start)
            raise SqlError(
                line_of(sql, token.start),
                f"psql meta-command {command} is not SQL: remove the line (files run through the driver, not psql)",
            )


def _scan(sql: str) -> list:
    """The tokens; a meta-command before a scan error (``\\restrict 7dUq…`` does not scan) is named first."""
    from pglast import parser  # loaded when a file is split, not with every module that names a Statement

    try:
        tokens = parser.scan(sql)
    except parser.ParseError as exc:
        at = exc.args[1] if len(exc.args) > 1 else 0
        try:
            _refuse_meta_commands(sql, parser.scan(sql[:at]))
        except parser.ParseError:
            pass
        raise SqlError(line_of(sql, at), f"{exc.args[0]}: fix the SQL") from None
    _refuse_meta_commands(sql, tokens)
    return tokens


def split_statements(sql: str) -> list[Statement]:
    """The statements of ``sql`` as PostgreSQL parses them; empty ones (``;`` alone, comments) are dropped."""
    from pglast import parser

    tokens = _scan(sql)
    try:
        raw = json.loads(parser.parse_sql_json(sql)).get("stmts", []) if tokens else []
    except parser.ParseError as exc:
        raise SqlError(line_of(sql, exc.args[1] if len(exc.args) > 1 else 0), f"{exc.args[0]}: fix the SQL") from None
    char = _byte_to_char(sql)
    starts = [t for t in tokens if t.name not in COMMENTS]
    statements = []
    index = 0
    for stmt in raw:
        location = char(stmt.get("stmt_location", 0))
        end = char(stmt.get("stmt_location", 0) + stmt["stmt_len"]) if stmt.get("stmt_len") else len(sql)
        while starts[index].start < location:
            index += 1
        first = starts[index].start
        ((kind, node),) = stmt["stmt"].items()
        statements.append(Statement(sql[first:end].rstrip(), line_of(sql, first), first, kind, node))
    return statements


def _byte_to_char(sql: str):
    """libpg_query's JSON gives byte offsets in UTF-8: turn them into character offsets (asked in order)."""
    if sql.isascii():
        return lambda offset: offset
    raw = sql.encode()
    done = {"byte": 0, "char": 0}

    def char(offset: int) -> int:
        if offset < done["byte"]:
            done["byte"] = done["char"] = 0
        done["char"] += len(raw[done["byte"] : offset].decode())
        done["byte"] = offset
        return done["char"]

    return char
