"""tasks/operations/health.py from recorded facts (cases/health.*/*.json): every branch, no database."""

import pytest

from tests.unit.operations.recorded import CASES, check

PATHS = sorted(CASES.glob("health.*/*.json"))


@pytest.mark.parametrize("path", PATHS, ids=[f"{p.parent.name}/{p.stem}" for p in PATHS])
def test_case(path, monkeypatch, tmp_path):
    check(path, monkeypatch, tmp_path)
