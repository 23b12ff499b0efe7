"""
Split SQL text into statements the way psql does, keeping each statement's first line.

Understands single-quoted strings (``''`` escapes, ``E''`` backslash escapes), quoted
identifiers, dollar quoting (``$$``/``$tag$``), ``--`` and nested ``/* */`` comments,
parentheses, and SQL-standard function bodies (``BEGIN ATOMIC ... END``). Pure; no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOLLAR_TAG = re.compile(r"\$([A-Za-z_\u0080-\uffff][A-Za-z_0-9\u0080-\uffff]*)?\$")
WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9$]*")


@dataclass(frozen=True)
class Statement:
    text: str  # the statement without its trailing semicolon, stripped
    line: int  # 1-based line of its first character in the file
    offset: int  # 0-based character offset of its first character

    @property
    def first_words(self) -> str:
        """Upper-cased leading keywords with comments removed, for classification."""
        return " ".join(strip_comments(self.text).upper().split()[:8])


def strip_comments(sql: str) -> str:
    """The SQL with comments replaced by spaces (strings and dollar quotes left intact)."""
    out = []
    for kind, chunk in _tokens(sql):
        out.append(" " if kind == "comment" else chunk)
    return "".join(out)


def _tokens(sql: str):
    """Yield (kind, text) pieces: comment, string, dollar, ident, word, semicolon, other."""
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end == -1 else end
            yield "comment", sql[i:end]
            i = end
        elif c == "/" and sql.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if sql.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif sql.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            yield "comment", sql[i:j]
            i = j
        elif c == "'" or (c in "eE" and sql.startswith("'", i + 1) and not _word_before(sql, i)):
            end = _quoted_end(sql, i + (1 if c == "'" else 2), "'", backslash=c != "'")
            yield "string", sql[i:end]
            i = end
        elif c == '"':
            end = _quoted_end(sql, i + 1, '"', backslash=False)
            yield "ident", sql[i:end]
            i = end
        elif c == "$" and not _word_before(sql, i) and (m := DOLLAR_TAG.match(sql, i)):
            tag = m.group(0)
            end = sql.find(tag, m.end())
            end = n if end == -1 else end + len(tag)
            yield "dollar", sql[i:end]
            i = end
        elif c == ";":
            yield "semicolon", c
            i += 1
        elif m := WORD.match(sql, i):
            yield "word", m.group(0)
            i = m.end()
        else:
            yield "other", c
            i += 1


def _quoted_end(sql: str, j: int, quote: str, backslash: bool) -> int:
    """Index just past the closing ``quote`` (doubled quotes and, for E'', backslashes escape)."""
    n = len(sql)
    while j < n:
        if backslash and sql[j] == "\\":
            j += 2
        elif sql[j] == quote and sql.startswith(quote * 2, j):
            j += 2
        elif sql[j] == quote:
            return j + 1
        else:
            j += 1
    return n


def _word_before(sql: str, i: int) -> bool:
    return i > 0 and (sql[i - 1].isalnum() or sql[i - 1] in "_$")


def split_statements(sql: str) -> list[Statement]:
    """Split into statements; empty ones (only comments or blanks) are dropped."""
    statements: list[Statement] = []
    start = 0
    pos = 0
    words: list[str] = []  # upper-cased words of the current statement, for BEGIN ATOMIC
    atomic_depth = 0
    paren = 0

    def flush(end: int) -> None:
        chunk = sql[start:end]
        if strip_comments(chunk).strip():
            lead = len(chunk) - len(chunk.lstrip())
            offset = start + lead
            statements.append(Statement(chunk.strip(), sql.count("\n", 0, offset) + 1, offset))

    for kind, text in _tokens(sql):
        if kind == "word":
            upper = text.upper()
            if atomic_depth:
                if upper in ("BEGIN", "CASE"):
                    atomic_depth += 1
                elif upper == "END":
                    atomic_depth -= 1
            elif upper == "ATOMIC" and words and words[-1] == "BEGIN":
                atomic_depth = 1
            words.append(upper)
        elif kind == "other" and text in "()":
            paren += 1 if text == "(" else -1
        elif kind == "semicolon" and not atomic_depth and paren <= 0:
            flush(pos)
            start = pos + 1
            words = []
            paren = 0
        pos += len(text)
    flush(len(sql))
    return statements


def line_of(sql: str, offset: int) -> int:
    """1-based line number of a 0-based character offset."""
    return sql.count("\n", 0, max(0, offset)) + 1
