"""
The plan as a dry run prints it and as latest-run.json records it agrees with the run (the findings of
a tester who read only docs/plan.md and docs/risk.md): the seed line counts the rows the run inserts; a
seed file whose table no migration makes is refused before anything (no backup, the target unchanged);
a risk refusal is the target part's refusal; a high risk only reported (RISK_FAIL_ON=never) says so; in
copy mode the recorded plan is the one the run went by. Real pyinfra CLI, real clusters.
"""

from __future__ import annotations

import json
import shutil

import pytest

from tests.integration.test_risk_unproven import REWRITE, backups_taken, many_users
from tests.support import SEEDS, catalog_and_data, report_rows

pytestmark = pytest.mark.cluster


def recorded(project) -> dict:
    return json.loads((project.tmp / "reports" / "latest-run.json").read_text())["plan"]


def test_the_dry_runs_seed_line_counts_the_rows_it_will_insert(project):
    dry = project.dry()
    assert dry.code == 0, dry.output[-3000:]
    rows = sum(len(path.read_text().strip().splitlines()) - 1 for path in SEEDS.glob("*.csv"))
    assert f"seed: {rows} row(s) to write in 3 file(s), 3 table(s) not there yet" in dry.output, dry.output
    assert rows > 0


def test_a_seed_table_no_migration_makes_is_refused_before_anything(project):
    seeds = project.tmp / "seed"
    shutil.copytree(SEEDS, seeds)
    project.seeds = seeds
    assert project.deploy().code == 0
    (seeds / "nosuch.csv").write_text("id,name\n1,a\n")
    before, backups = catalog_and_data(project.target_db), backups_taken(project)
    sources = sorted((project.tmp / "backups" / "source").glob("*"))
    dry = project.dry()
    assert dry.code != 0, dry.output
    assert "nosuch.csv: table public.nosuch does not exist in the target and no pending migration makes it" in (
        dry.output
    ), dry.output
    done = project.deploy()
    assert done.code != 0, done.output
    assert report_rows(project.tmp / "reports")["Migrations proven locally"][0] == "failed"
    assert recorded(project)["seed"]["problem"]["code"] == "seed-table-missing"
    assert catalog_and_data(project.target_db) == before and backups_taken(project) == backups
    assert sorted((project.tmp / "backups" / "source").glob("*")) == sources


def test_a_risk_refusal_is_the_target_parts_refusal_and_never_is_recorded(project):
    assert project.deploy().code == 0
    many_users(project)
    project.write_migration("005_rewrite.sql", f"{REWRITE};\n")
    done = project.deploy(RISK_TABLE_MB="1")
    assert done.code != 0, done.output
    plan = recorded(project)
    assert plan["target"] is not None and plan["target"]["refusal"]["code"] == "risk-high", plan["target"]
    assert plan["target"]["changes"] is False
    high = [f for f in plan["risk"]["findings"] if f["high"]]
    assert high and not any(f["reported_only"] for f in high), high
    done = project.deploy(RISK_TABLE_MB="1", RISK_FAIL_ON="never")
    assert done.code == 0, done.output
    high = [f for f in recorded(project)["risk"]["findings"] if f["high"]]
    assert high and all(f["reported_only"] and not f["accepted"] for f in high), high


def test_copy_modes_recorded_plan_is_the_one_the_run_went_by(project, source_db):
    done = project.deploy(DATA_MIGRATION="copy")
    assert done.code == 0, done.output[-3000:]
    plan = recorded(project)
    pending = plan["migrations"]["pending"]
    assert len(pending) == 4 and plan["migrations"]["applied"] == 0, plan["migrations"]
    assert f"{len(pending)} pending migration(s)" in plan["target"]["reasons"], plan["target"]
