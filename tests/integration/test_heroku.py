"""
The Heroku target (issue 7), end to end: ``HEROKU_APP=... pyinfra inventory.py deploy.py -y``.

Stand-ins (Heroku is unreachable from here): the real ``heroku`` CLI talks to a local fake of the
Heroku Platform and Data APIs (tests/heroku_fake.py) whose DATABASE_URL is a real database on the
sandbox target; ``heroku run`` and ``heroku logs`` are a PATH stand-in that runs the check command
here and prints the fake's log lines. Everything database-side is real PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from urllib.parse import urlsplit

from tests.support import catalog_and_data, query


def password(project) -> str:
    return urlsplit(project.target_url).password


def test_converges_through_the_cli_and_a_rerun_makes_two_calls(project, heroku):
    first = project.deploy()
    assert first.code == 0, first.output[-3000:]
    assert project.applied_versions(), "the migrations were applied through the app's DATABASE_URL"
    calls = heroku.calls()
    assert calls[:2] == ["config:get", "ps"]
    assert {"pg:info", "pg:backups:capture", "pg:backups:info", "run", "logs"} <= set(calls)
    assert len(heroku.transfers) == 1 and heroku.transfers[0]["succeeded"]
    assert password(project) not in first.output, "DATABASE_URL's password was printed"

    before = len(calls)
    second = project.deploy()
    assert second.code == 0, second.output[-3000:]
    assert second.changed() == [], second.operations()
    assert heroku.calls()[before:] == ["config:get", "ps"], "a converged run makes two CLI calls"
    assert len(heroku.transfers) == 1, "no backup when nothing changes"
