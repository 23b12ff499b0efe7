"""The risk part of the plan (issue 27 in the typed plan): its refusal, its lines, the report and the
plan record's ``findings`` (pure apart from a temporary folder)."""

from __future__ import annotations

import json
from pathlib import Path

from tasks.migrations.files import Migration
from tasks.plan import Plan, Problem, RiskFinding, RiskPart, records

LOCK = RiskFinding("lock", "005_retype.sql", 1, "005_retype.sql:1 ACCESS EXCLUSIVE + rewrite of users (3.0 MB, "
                   "20 k rows, ~0 writes/s), rewrite yes; HIGH RISK", high=True)
LINT = RiskFinding("lint", "005_retype.sql", 1, "005_retype.sql:1 squawk adding-field-with-default: …")
HIGH = Problem("risk-high", "005_retype.sql:1 users", "migration 005_retype.sql line 1 rewrites users: …",
               "make the change without a rewrite")
DATA = Problem("risk-data", "006_check.sql:1 users", "migration 006_check.sql line 1 will fail: …",
               "fix those rows (or the migration) and run again")


def test_the_first_problem_refuses_and_counts_the_others():
    part = RiskPart(2, (LOCK, LINT), (DATA, HIGH))
    assert part.refusal == Problem(DATA.code, DATA.subject, f"{DATA.message} (and 1 more)", DATA.fix)
    assert RiskPart(1, (LOCK,), (HIGH,)).refusal == HIGH
    assert RiskPart(1, (LOCK,)).refusal is None and part.high == 1


def test_the_plan_shows_and_reports_the_risk():
    plan = Plan(risk=RiskPart(1, (LOCK, LINT), (HIGH,)))
    assert any(line.startswith("risk: 1 table lock(s) measured, 1 high; refused: migration 005_retype.sql")
               for line in plan.lines())
    risk = plan.as_dict()["risk"]
    assert [f["text"] for f in risk["findings"]] == [LOCK.text, LINT.text]
    assert risk["problems"][0]["code"] == "risk-high" and risk["problems"][0]["fix"] == HIGH.fix
    assert Plan().findings() == [] and Plan().as_dict()["risk"] is None


def test_the_plan_record_keeps_the_risk_findings(tmp_path: Path):
    files = [Migration(5, "retype", "005_retype.sql", Path("005_retype.sql"), "c" * 64, "SELECT 1;", False)]
    records.before_changes["staging"] = ({"tables": {}}, ["005_retype.sql"])
    plan = Plan(risk=RiskPart(1, (LOCK, LINT)))
    path = records.record_run("staging", str(tmp_path), files, {"tables": {}}, True, True, plan.findings())
    assert path is not None
    kept = json.loads(Path(path).read_text())["findings"]
    assert kept == [LOCK.as_dict(), LINT.as_dict()] and kept[0]["high"] and kept[1]["kind"] == "lint"
