"""
Real public migration sets (issue 27): the plan shows no high risk for tables created in the same run
or empty on the target, even with RISK_TABLE_MB=0: Lemmy's 247 migrations (tests/samples/lemmy) in
two halves, and pagila's schema (tests/samples/pagila) as one file. PostgreSQL is the oracle of sizes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support import query

pytestmark = pytest.mark.cluster

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def use_migrations(project, files: list[Path]) -> None:
    for old in project.migrations.glob("*.sql"):
        old.unlink()
    for path in files:
        shutil.copy(path, project.migrations / path.name)
    project.seeds = project.tmp / "no-seed"


def test_lemmy_second_half_over_empty_tables_is_no_high_risk(project):
    files = sorted((SAMPLES / "lemmy" / "migrations").glob("*.sql"))
    use_migrations(project, files[:150])
    first = project.deploy(RISK_TABLE_MB="0")
    assert first.code == 0, first.output[-3000:]
    assert query(project.target_db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")[0][0] > 20
    use_migrations(project, files)
    dry = project.dry(RISK_TABLE_MB="0")
    assert dry.code == 0, dry.output[-3000:]
    assert "risk: " in dry.output and " of " in dry.output  # the plan does show the statements' locks
    assert "HIGH RISK" not in dry.output
    done = project.deploy(RISK_TABLE_MB="0")
    assert done.code == 0, done.output[-3000:]


def test_pagila_schema_made_in_one_run_is_no_high_risk(project):
    schema = project.tmp / "001_pagila.sql"
    schema.write_text((SAMPLES / "pagila" / "pagila-schema.sql").read_text())
    use_migrations(project, [schema])
    dry = project.dry(RISK_TABLE_MB="0")
    assert dry.code == 0, dry.output[-3000:]
    assert "HIGH RISK" not in dry.output, dry.output[-3000:]
