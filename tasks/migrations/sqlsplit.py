"""
Split SQL text into statements with PostgreSQL's own parser (libpg_query, through ``pglast``).

Statement boundaries, quoting (strings, ``E''``, quoted identifiers, dollar tags of any Unicode),
nested comments and ``BEGIN ATOMIC`` bodies are PostgreSQL's, not ours. Each statement keeps the
line of its first token (a comment before it is not part of it) and its parse tree's node, so the
caller classifies statements by what they are, not by how they are spelled. A psql meta-command
(a backslash outside any string or comment), a scan or a syntax error is a :class:`SqlError` naming
the line. pglast reports character offsets (libpg_query's byte offsets converted). Pure; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pglast import parser

COMMENTS = ("SQL_COMMENT", "C_COMMENT")
BACKSLASH = "ASCII_92"


class SqlError(ValueError):
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
    node: Any = field(default=None, compare=False, repr=False)  # the parse tree (a pglast.ast node)

    @property
    def kind(self) -> str:
        """The parse node's name, e.g. ``CreateStmt``, ``TransactionStmt``, ``VariableSetStmt``."""
        return type(self.node).__name__


def line_of(sql: str, offset: int) -> int:
    """1-based line number of a 0-based character offset."""
    return sql.count("\n", 0, max(0, offset)) + 1


def _meta_command(sql: str, start: int) -> str:
    end = start + 1
    while end < len(sql) and not sql[end].isspace():
        end += 1
    return sql[start:end]


def _refuse_meta_commands(sql: str, tokens: list) -> None:
    for token in tokens:
        if token.name == BACKSLASH:
            command = _meta_command(sql, token.start)
            raise SqlError(line_of(sql, token.start), f"psql meta-command {command} is not SQL: "
                                                      "remove the line (files run through the driver, not psql)")


def _scan(sql: str) -> list:
    """The tokens; a meta-command before a scan error (``\\restrict 7dUq…`` does not scan) is named first."""
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
    tokens = _scan(sql)
    try:
        raw = parser.parse_sql(sql)
    except parser.ParseError as exc:
        raise SqlError(line_of(sql, exc.args[1] if len(exc.args) > 1 else 0), f"{exc.args[0]}: fix the SQL") from None
    starts = [t for t in tokens if t.name not in COMMENTS]
    statements = []
    index = 0
    for stmt in raw:
        end = stmt.stmt_location + stmt.stmt_len if stmt.stmt_len else len(sql)
        while starts[index].start < stmt.stmt_location:
            index += 1
        first = starts[index].start
        text = sql[first:end].rstrip()
        statements.append(Statement(text, line_of(sql, first), first, stmt.stmt))
    return statements
