"""
Hypothesis strategies for SQL files whose statements are known by construction: ``SELECT <literal> AS
"<identifier>"`` with every quoting PostgreSQL has (standard and E'' strings, quoted identifiers,
dollar tags of any Unicode), nested comments and semicolons inside strings and comments. Each
example comes with the expected statements, their first lines and the values they return.
"""

from __future__ import annotations

import re

from hypothesis import strategies as st

TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
SPICE = st.sampled_from([";", "'", '"', "$", "$$", "\\", "--", "/*", "*/", "\n", "COMMIT;", "😀", "é", "\\.", "$😀$"])
CONTENT = st.lists(st.one_of(TEXT, SPICE), max_size=4).map("".join)
TAG_START = st.characters(blacklist_categories=("Cs", "Cc", "Z"), blacklist_characters="$0123456789\x00"
                          ).filter(lambda c: c == "_" or c.isalpha() or ord(c) > 127)
TAG_REST = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Z"), blacklist_characters="$\x00"
                                 ).filter(lambda c: c.isalnum() or c == "_" or ord(c) > 127), max_size=3)


def _standard(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _escaped(value: str) -> str:
    return "E'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@st.composite
def dollar(draw, value: str) -> str:
    tag = draw(st.one_of(st.just(""), st.builds(lambda a, b: a + b, TAG_START, TAG_REST)))
    quote = f"${tag}$"
    if quote in value or value.endswith("$") or (value + quote).count(quote) > 1:
        tag, quote = "pgc_safe_tag", "$pgc_safe_tag$"
        if quote in value or value.endswith("$"):
            value = value.replace("$", "")
    return f"{quote}{value}{quote}", value


@st.composite
def comment(draw) -> str:
    """A ``--`` comment (to the end of its line) or a nested ``/* /* */ */`` one; both may hold ; and quotes."""
    inner = draw(CONTENT).replace("/*", "").replace("*/", "").replace("*", "")
    inner = inner.replace("/", "")
    if draw(st.booleans()):
        return "-- " + inner.replace("\n", " ").replace("\r", " ") + "\n"
    outer = draw(CONTENT).replace("/", "").replace("*", "")
    return f"/* {outer} /* {inner} */ {outer} */"


@st.composite
def statement(draw) -> tuple[str, str]:
    """(SQL text, the value it returns)."""
    value = draw(CONTENT)
    style = draw(st.sampled_from(["standard", "escaped", "dollar"]))
    if style == "standard":
        literal = _standard(value)
    elif style == "escaped":
        literal = _escaped(value)
    else:
        literal, value = draw(dollar(value))
    alias = draw(CONTENT.filter(lambda a: a and len(a.encode()) < 60))
    middle = draw(st.one_of(st.just(" "), comment().map(lambda c: f" {c} ")))
    return f"SELECT{middle}{literal} AS \"{alias.replace(chr(34), chr(34) * 2)}\"", value


@st.composite
def sql_file(draw) -> tuple[str, list[tuple[str, int, str]]]:
    """(file text, [(statement text, first line, value)])."""
    parts, expected = [], []
    for _ in range(draw(st.integers(1, 5))):
        for _ in range(draw(st.integers(0, 2))):
            parts.append(draw(comment()) + draw(st.sampled_from(["", "\n", " ", ";\n"])))
        text, value = draw(statement())
        line = len(re.findall(r"\r\n|\r|\n", "".join(parts))) + 1  # as editors count: CRLF, LF, lone CR
        expected.append((text, line, value))
        parts.append(text + draw(st.sampled_from([";", " ;", ";\n", ";\n\n", "\n;"])))
    return "".join(parts), expected
