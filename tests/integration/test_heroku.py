"""
The Heroku target (issues 7, 14), end to end: ``HEROKU_APP=... pyinfra inventory.py deploy.py -y``.

The one stand-in is Heroku's servers (unreachable from here): the real ``heroku`` CLI 11.10 talks to
a local fake of the Platform and Data APIs (tests/heroku_fake.py) whose DATABASE_URL is a real
database on the sandbox target (PostgreSQL 17). ``heroku run`` and ``heroku logs`` go through the
real CLI too: the fake serves the dyno rendezvous and the log stream, so these tests see the argv
the CLI builds. Everything database-side is real PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest

from tasks.core.settings import DEFAULT_APP_CHECK
from tests.support import ROOT, catalog_and_data, report_rows

pytestmark = [pytest.mark.cluster, pytest.mark.long]  # needs the sandbox's clusters; a minute or more each


def test_converges_through_the_cli_and_a_rerun_makes_two_calls(project, heroku):
    """HEROKU_APP only in .env (the README's set-up), the default APP_DB_CHECK_COMMAND, a PG17 target:
    the dyno receives the check command exactly as written (defect 1: -a APP was once sent along)."""
    del project.extra["HEROKU_APP"], project.extra["APP_DB_CHECK_COMMAND"]
    project.env_file.write_text("HEROKU_APP=pgc-test-app\n")
    first = project.deploy()
    assert first.code == 0, first.output[-3000:]
    assert project.applied_versions(), "the migrations were applied through the app's DATABASE_URL"
    assert "PostgreSQL 17" in first.output
    assert heroku.dyno_commands == [DEFAULT_APP_CHECK + ' ; echo "\uFFFF heroku-command-exit-status: $?"']
    assert heroku.rendezvous.exit_codes == [0], "the app's own db module answered in the dyno"
    assert heroku.log_sessions == [{"lines": 1500, "tail": False}], "logs -n 1500 as the CLI sends it"
    calls = heroku.calls()
    assert sorted(calls[:2]) == ["config:get", "ps"], "both at the start, side by side"
    assert {"pg:info", "pg:backups:capture", "pg:backups:info", "run", "logs"} <= set(calls)
    assert len(heroku.transfers) == 1 and heroku.transfers[0]["succeeded"]
    assert heroku.password not in first.output, "DATABASE_URL's password was printed"
    assert "heroku CLI calls: 7 (" in first.stderr and "pg:info, pg:backups:capture" in first.stderr
    kept = [path for path in project.tmp.rglob("*") if path.is_file() and "heroku" not in path.parts]
    assert kept and not [path for path in kept if heroku.password.encode() in path.read_bytes()], "nor written"

    before = len(calls)
    second = project.deploy()
    assert second.code == 0, second.output[-3000:]
    assert second.changed() == [], second.operations()
    assert sorted(heroku.calls()[before:]) == ["config:get", "ps"], "a converged run makes two CLI calls"
    assert len(heroku.transfers) == 1, "no backup when nothing changes"


def test_missing_database_url_unknown_app_and_bad_token_are_one_line_each(project, heroku):
    before = catalog_and_data(project.target_db)
    cases = [
        ("has_database", False, "Heroku app pgc-test-app has no DATABASE_URL: provision heroku-postgresql"),
        ("unknown_app", True, "Heroku app pgc-test-app not found"),
        ("reject_token", True, "not logged in to Heroku"),
    ]
    for attribute, value, words in cases:
        setattr(heroku, attribute, value)
        result = project.deploy()
        setattr(heroku, attribute, not value)
        assert result.code == 2, result.output[-2000:]
        lines = [line for line in result.stderr.splitlines() if line.startswith("pgconverge:")]
        assert len(lines) == 1 and words in lines[0], result.stderr[-2000:]
        assert "Traceback" not in result.output
    assert catalog_and_data(project.target_db) == before, "the target was not touched"


def test_cli_not_installed_is_one_line(project, heroku):
    result = project.deploy(HEROKU_CLI="/nowhere/heroku")
    assert result.code == 2
    assert "pgconverge: HEROKU_CLI: /nowhere/heroku is not an executable file" in result.stderr
    assert project.applied_versions() == []


def test_a_failed_capture_stops_the_run_before_any_change(project, heroku):
    heroku.fail_backups = True
    before = catalog_and_data(project.target_db)
    result = project.deploy()
    assert result.code != 0
    assert "backup did not finish" in result.output and "the target was not changed" in result.output
    assert report_rows(project.tmp / "reports")["Target backup captured"][0] == "failed"
    assert catalog_and_data(project.target_db) == before
    heroku.fail_backups = False
    again = project.deploy()
    assert again.code == 0, again.output[-2000:]
    assert [t["succeeded"] for t in heroku.transfers] == [False, True]


def test_pool_var_is_set_only_when_it_differs(project, heroku):
    first = project.deploy(DB_POOL_MAX_VALUE="4")
    assert first.code == 0, first.output[-2000:]
    assert heroku.config_patches == [{"DB_POOL_MAX": "4"}] and heroku.config["DB_POOL_MAX"] == "4"
    assert "DB_POOL_MAX 4 × 1 web dyno(s) + 10 reserved = 14 ≤ 20" in first.output
    second = project.deploy(DB_POOL_MAX_VALUE="4")
    assert second.code == 0 and second.changed() == [], second.operations()
    assert len(heroku.config_patches) == 1, "config:set is never called for an equal value (it restarts the dynos)"
    assert "config:set" not in heroku.calls()[-2:]


def test_database_errors_in_the_logs_fail_the_run_until_a_scan_is_clean(project, heroku):
    now = datetime.now(UTC)
    heroku.add_log(now - timedelta(hours=1), "app[web.1]: Error: connect ECONNREFUSED 10.1.2.3:5432")
    # newer than both runs below even on a loaded machine (parallel workers: a run took over a minute)
    heroku.add_log(now + timedelta(minutes=10), 'app[web.1]: error: relation "messages" does not exist')
    failed = project.deploy()
    assert failed.code != 0 and report_rows(project.tmp / "reports")["Logs clean"][0] == "failed"
    assert "relation does not exist" in failed.output and 'relation "messages" does not exist' in failed.output
    assert "ECONNREFUSED 10.1.2.3" not in failed.output, "lines older than the run are left alone"
    assert project.applied_versions(), "the migrations themselves went in"

    ignored = project.deploy(IGNORE_LOG_ERRORS="true")  # the same line is still newer than this run
    assert ignored.code == 0, ignored.output[-2000:]
    assert "ignored (IGNORE_LOG_ERRORS=true)" in ignored.output
    calls = len(heroku.calls())
    quiet = project.deploy()
    assert quiet.code == 0 and quiet.changed() == [], quiet.operations()
    assert len(heroku.calls()) - calls == 2, "once a scan passed, a converged run reads no logs"


def test_a_failing_app_check_fails_the_run_and_is_retried_on_the_next(project, heroku):
    failed = project.deploy(APP_DB_CHECK_COMMAND="false")
    assert failed.code != 0 and report_rows(project.tmp / "reports")["App can connect"][0] == "failed"
    assert "could not reach its database from a one-off dyno" in failed.output
    fixed = project.deploy()
    assert fixed.code == 0 and fixed.changed() == ["App can connect", "Logs clean"], fixed.operations()
    assert project.deploy().changed() == []


def test_an_empty_check_command_skips_the_app_check_visibly(project, heroku):
    result = project.deploy(APP_DB_CHECK_COMMAND="")
    assert result.code == 0
    assert "skipped: APP_DB_CHECK_COMMAND is empty" in result.output
    assert "run" not in heroku.calls()


def kill_when(process, condition, timeout: float = 120) -> None:
    """SIGKILL the deploy (and the CLI under it) as soon as ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()[1][-2000:]
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_interrupted_app_check_runs_again_and_converges(project, heroku):
    slow = f'touch {heroku.folder}/in-check; sleep 60'
    process = project.start(APP_DB_CHECK_COMMAND=slow)
    kill_when(process, lambda: (heroku.folder / "in-check").exists())
    rerun = project.deploy()
    assert rerun.code == 0, rerun.output[-2000:]
    assert "App can connect" in rerun.changed(), "the killed check left no record: it runs again"
    assert project.deploy().changed() == []


def test_reset_is_gated_by_confirm_and_leaves_an_empty_database(project, heroku):
    assert project.deploy().code == 0
    tables = project.tables()
    for data in ((), ("confirm=other-app",)):
        refused = project.run_file("reset.py", *data)
        assert refused.code != 0 and "reset refused" in refused.output
        assert "--data confirm=pgc-test-app" in refused.output
        assert project.tables() == tables and heroku.resets == 0
    done = project.run_file("reset.py", "confirm=pgc-test-app")
    assert done.code == 0, done.output[-2000:]
    assert heroku.resets == 1 and project.tables() == [] and project.applied_versions() == []
    again = project.run_file("reset.py", "confirm=pgc-test-app")
    assert again.code == 0 and again.changed() == [] and heroku.resets == 1
    assert project.deploy().code == 0 and project.tables() == tables, "a deploy after a reset converges again"


def test_the_plans_limit_from_pg_info_counts_when_lower_than_the_servers(project, heroku):
    heroku.connection_limit = 15  # pg:info's "Connections: n/15"; the server's max_connections is 20
    result = project.deploy(DB_POOL_MAX_VALUE="6")
    assert result.code != 0
    assert "DB_POOL_MAX 6 × 1 web dyno(s) + 10 reserved = 16 > 15 connections" in result.output
    assert heroku.config_patches == [] and project.applied_versions() == []


def test_a_run_killed_during_the_capture_converges_on_the_next(project, heroku):
    heroku.slow_s = 3
    process = project.start()
    kill_when(process, lambda: any(path.endswith("/backups") for _, path in heroku.requests))
    assert project.applied_versions() == [], "killed during the backup: nothing applied yet"
    heroku.slow_s = 0
    rerun = project.deploy()
    assert rerun.code == 0, rerun.output[-2000:]
    assert project.applied_versions() and heroku.transfers[-1]["succeeded"]
    assert project.deploy().changed() == []


def test_a_reset_killed_midway_is_finished_by_the_next(project, heroku):
    assert project.deploy().code == 0
    heroku.slow_s = 3
    process = subprocess.Popen(
        project.command("--data", "confirm=pgc-test-app", deploy_file="reset.py"),
        cwd=ROOT,
        env=project.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    kill_when(process, lambda: heroku.resets > 0)
    heroku.slow_s = 0
    again = project.run_file("reset.py", "confirm=pgc-test-app")
    assert again.code == 0, again.output[-2000:]
    assert project.tables() == [] and project.applied_versions() == []
