"""docs/reliability.md's reliability counts are rendered from reports/reliability.json, never typed (pure)."""

import pytest

from tests.reliability.counts import BEGIN, END, render, with_block


def test_the_block_between_the_markers_is_rendered_from_the_counts():
    readme = f"intro\n{BEGIN}\nCounts from the last run: typed by hand 99.\n{END}\nafter\n"
    counts = {"crash trials": 30, "bad inputs refused with nothing changed": 41, "updated": "2026-11-30"}
    text = with_block(readme, counts)
    assert text == (f"intro\n{BEGIN}\nCounts from the last run: bad inputs refused with nothing changed 41; "
                    f"crash trials 30 (`make test`, 2026-11-30).\n{END}\nafter\n")
    assert with_block(text, counts) == text and render(counts) in text


def test_a_readme_without_the_markers_is_refused():
    with pytest.raises(SystemExit, match="no block"):
        with_block("no markers here\n", {})
