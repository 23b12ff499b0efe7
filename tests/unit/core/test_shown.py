"""File names are shown escaped, never raw (issue 29 class 5): one helper, a property test. Pure."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.core.errors import describe
from tasks.core.shown import escape_controls, shown
from tasks.migrations.files import MigrationFileError, parse_file_name


def unescape(text: str) -> str:
    """The reading back of :func:`shown` (the test's own decoder)."""
    named = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\"}

    def one(match: re.Match) -> str:
        code = match.group(1)
        if code in named:
            return named[code]
        value = int(code[1:], 16)
        return chr(value)

    return re.sub(r"\\(n|r|t|\\|x[0-9a-f]{2}|u[0-9a-f]{4})", one, text)


def is_raw_control(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Zl", "Zp")


NAMES = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=500, deadline=None)
@given(name=NAMES)
def test_what_is_shown_holds_no_control_character_and_reads_back_as_the_name(name):
    out = shown(name)
    assert not any(is_raw_control(char) for char in out)
    assert "\n" not in out and "\x1b" not in out
    assert unescape(out) == name


@settings(max_examples=300, deadline=None)
@given(name=st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\\\u202e"),
                    max_size=40))
def test_a_plain_name_is_shown_as_it_is(name):
    assert shown(name) == name == escape_controls(name)


@given(a=NAMES, b=NAMES)
def test_two_names_never_look_the_same(a, b):
    if a != b:
        assert shown(a) != shown(b)


@pytest.mark.parametrize("name", ["005_\x1b[2J\x1b[31mall good.sql", "005_x\nmigration 006_y.sql line 1: ok.sql"])
def test_a_bad_file_name_is_refused_escaped_in_one_line(name):
    with pytest.raises(MigrationFileError) as caught:
        parse_file_name(name)
    line = describe(caught.value)
    assert "\x1b" not in line and "\n" not in line and shown(name) in line
