"""tasks/operations/heroku.py from recorded facts (cases/heroku.*/*.json): the branches that call no Heroku CLI."""

import pytest

from tests.unit.operations.recorded import CASES, check

PATHS = sorted(CASES.glob("heroku.*/*.json"))


@pytest.mark.parametrize("path", PATHS, ids=[f"{p.parent.name}/{p.stem}" for p in PATHS])
def test_case(path, monkeypatch, tmp_path):
    check(path, monkeypatch, tmp_path)
