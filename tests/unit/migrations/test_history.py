"""Reading the target's history rows (pure)."""

import pytest

from tasks.migrations.history import HistoryError, history_from_rows

SUM = "a" * 64


def row(**values):
    import json

    return ("row", "", json.dumps(values), "")


def test_history_names_with_tabs_and_line_breaks_are_read():
    history = history_from_rows([row(version=2, name="a\tb\nc", checksum=SUM, kind="applied"),
                                 row(version=1, name="x", checksum=SUM, kind="baseline")], True)
    assert [(r.version, r.name, r.kind) for r in history.rows] == [(1, "x", "baseline"), (2, "a\tb\nc", "applied")]


@pytest.mark.parametrize("values, words", [
    ({"version": "20240101"}, "has no column name, checksum (its columns: version): it is not pgconverge's history"),
    ({"version": 3, "name": "x", "checksum": "nope"}, "row for version 3 has no sha256 checksum"),
    ({"version": 3, "name": "x", "checksum": SUM, "kind": "other"}, "has the kind 'other'"),
    ({"version": -1, "name": "x", "checksum": SUM}, "has the negative version -1: versions count up from 0"),
])
def test_a_malformed_history_is_named_with_the_fix(values, words):
    with pytest.raises(HistoryError, match="the target's public.schema_migrations") as raised:
        history_from_rows([row(**values)], True)
    assert words in str(raised.value) and "rename it" in str(raised.value)
