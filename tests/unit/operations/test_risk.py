"""tasks/operations/risk.py from recorded facts (cases/risk.*/*.json): every branch, no database."""

import pytest

from tests.unit.operations.recorded import CASES, load, run_case

PATHS = sorted(CASES.glob("risk.*/*.json"))


@pytest.mark.parametrize("path", PATHS, ids=[f"{p.parent.name}/{p.stem}" for p in PATHS])
def test_case(path, monkeypatch, tmp_path):
    case = load(path)
    outcome = run_case(case, monkeypatch, tmp_path)
    want = case["expect"]
    assert outcome.status == want["status"], (outcome, want)
    assert want.get("detail", "") in outcome.detail, (outcome, want)
    assert any(want.get("shown", "") in line for line in outcome.shown or [""]), (outcome, want)
