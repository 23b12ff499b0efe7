"""
The seed plan on a big table is a join on the key, not work per row (the tester: 2,000 seed rows
against a 252k-row table took more than 100 s, silently). Real PostgreSQL through the real CLI.
"""

from __future__ import annotations

import shutil
import time

import pytest

from tests.support import SEEDS, query

pytestmark = pytest.mark.cluster


def test_two_thousand_seed_rows_against_a_quarter_million_row_table_plan_quickly(project):
    folder = project.tmp / "seed"
    shutil.copytree(SEEDS, folder)
    project.seeds = folder
    assert project.deploy().code == 0
    query(project.target_db, "INSERT INTO users (id, email, display_name) "
          "SELECT g, 'big' || g || '@x', 'B' FROM generate_series(100000, 350000) g; ANALYZE users")
    users = folder / "users.csv"
    users.write_text(users.read_text() + "".join(f"{i},new{i}@x,N{i},false\n" for i in range(500000, 502000)))
    started = time.monotonic()
    dry = project.dry()
    took = time.monotonic() - started
    assert "insert 2000 missing row(s)" in dry.output, dry.output[-2500:]
    assert took < 40, took
