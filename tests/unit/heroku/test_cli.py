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


def test_heroku_cli_named_in_the_env_file_is_the_one_run(tmp_path, monkeypatch) -> None:
    """Adversary finding: HEROKU_CLI set in the env file (as .env.example offers) was ignored and
    .tools/heroku ran; it worked only from the real environment. The setting is read with the others
    and handed down."""
    from tests.unit.core.test_settings import load

    mine = tmp_path / "my-heroku"
    mine.write_text("#!/bin/sh\necho mine\n")
    mine.chmod(0o700)
    monkeypatch.delitem(os.environ, "HEROKU_CLI", raising=False)
    settings = load(tmp_path, f"HEROKU_CLI={mine}\n")
    assert settings.heroku_cli == str(mine)
    limits = heroku_cli.CliSettings(settings.heroku_cli_timeout_s, settings.heroku_log_window_s, settings.heroku_cli)
    assert heroku_cli.find_cli({"PATH": "/usr/bin:/bin"}, limits) == str(mine)
    monkeypatch.setattr(heroku_cli, "_settings", limits)
    assert heroku_cli.run("app", ["version"], environ={"PATH": "/usr/bin:/bin"}).stdout.strip() == "mine"
