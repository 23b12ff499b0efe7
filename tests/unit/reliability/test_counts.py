"""docs/reliability.md's reliability counts are rendered from reports/reliability.json, never typed (pure)."""

import json

import pytest

from tests.reliability import counts as counts_module
from tests.reliability.counts import BEGIN, END, add, render, with_block


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


def test_a_loop_split_into_parts_counts_the_sum_of_its_parts(tmp_path, monkeypatch):
    """Issue 26: the crash trials run in parts on different workers; each part records its own share,
    a part recorded again replaces its share, and the page shows the sum, never the parts."""
    monkeypatch.setattr(counts_module, "FILE", tmp_path / "reliability.json")
    add("crash trials", 10, part="1 of 3")
    add("crash trials", 10, part="2 of 3")
    add("crash trials", 10, part="3 of 3")
    add("crash trials", 10, part="3 of 3")
    add("concurrent deploys", 4)
    counts = json.loads((tmp_path / "reliability.json").read_text())
    assert counts["crash trials"] == 30 and counts["concurrent deploys"] == 4
    assert render(counts).startswith("Counts from the last run: concurrent deploys 4; crash trials 30 (")
