"""The Heroku CLI's limits come from the run's settings, handed down (never through ``os.environ``)."""

from __future__ import annotations

import os

from tasks.heroku import app as heroku_app
from tasks.heroku import cli as heroku_cli


def test_the_runs_limits_are_handed_down_not_read_from_the_environment(monkeypatch) -> None:
    monkeypatch.setitem(os.environ, "HEROKU_CLI_TIMEOUT", "999")
    monkeypatch.setitem(os.environ, "HEROKU_LOG_WINDOW", "999")
    monkeypatch.setattr(heroku_cli, "_settings", heroku_cli.CliSettings())
    assert heroku_cli.default_timeout() == 120.0 and heroku_app.log_window() == 20.0
    heroku_cli.configure(heroku_cli.CliSettings(timeout_s=3.0, log_window_s=4.5))
    assert heroku_cli.default_timeout() == 3.0 and heroku_app.log_window() == 4.5
    assert heroku_app.log_window(heroku_cli.CliSettings(log_window_s=7.0)) == 7.0
