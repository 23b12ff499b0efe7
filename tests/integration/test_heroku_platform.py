"""
Heroku as the real CLI and the platform behave (issue 14): the plan's pool limit, PostgreSQL 17
without newer local tools, early exits in `heroku run`, Fir log streams, and the platform's faults.

The one stand-in is Heroku's servers: the real ``heroku`` CLI 11.10 talks to tests/heroku_fake.py,
whose DATABASE_URL is a real database on the sandbox target (PostgreSQL 17); ``run`` and ``logs``
go through the real CLI. Every fault must end in one ``pgconverge:`` line naming the cause and the
way forward, with the target unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support import catalog_and_data, report_rows

pytestmark = [pytest.mark.cluster, pytest.mark.long]  # needs the sandbox's clusters; a minute or more each


def one_line(result) -> str:
    lines = [line[line.index("pgconverge:"):] for line in result.output.splitlines() if "pgconverge:" in line]
    assert len(set(lines)) == 1, result.output[-3000:]
    assert "Traceback" not in result.output and "    at " not in result.output and "<html" not in result.output.lower()
    return lines[0]


def test_the_plans_limit_decides_even_when_nothing_else_reads_pg_info(project, heroku):
    """Defect 2: with a converged database pg:info was not read and the server's max_connections
    (20) stood in for the plan's limit (15): DB_POOL_MAX=6 was set, and an oversized pool already
    set was reported as converged."""
    assert project.deploy().code == 0
    heroku.connection_limit = 15
    refused = project.deploy(DB_POOL_MAX_VALUE="6")
    assert refused.code != 0
    assert "DB_POOL_MAX 6 × 1 web dyno(s) + 10 reserved = 16 > 15 connections (plan Essential 0)" in one_line(refused)
    assert heroku.config_patches == []

    heroku.config["DB_POOL_MAX"] = "8"  # set by hand, too big for the plan
    oversized = project.deploy()
    assert oversized.code != 0 and "= 18 > 15 connections" in one_line(oversized)
    assert report_rows(project.tmp / "reports")["Pool within limits"][0] == "failed"


def test_the_limit_is_kept_with_the_plan_and_read_again_only_when_pool_or_dynos_change(project, heroku):
    first = project.deploy(DB_POOL_MAX_VALUE="4")
    assert first.code == 0, first.output[-2000:]
    assert heroku.calls().count("pg:info") == 1, "read once: the pool check and the capture share it"
    kept = project.state / "heroku-pgc-test-app-plan.json"
    assert kept.stat().st_mode & 0o777 == 0o600 and '"plan": "Essential 0"' in kept.read_text()

    before = len(heroku.calls())
    again = project.deploy(DB_POOL_MAX_VALUE="4")
    assert again.code == 0 and again.changed() == [], again.operations()
    assert sorted(heroku.calls()[before:]) == ["config:get", "ps"], "a converged run makes two CLI calls"

    heroku.web_dynos, before = 2, len(heroku.calls())
    scaled = project.deploy(DB_POOL_MAX_VALUE="4")
    assert scaled.code == 0 and "DB_POOL_MAX 4 × 2 web dyno(s) + 10 reserved = 18 ≤ 20" in scaled.output
    assert heroku.calls()[before:].count("pg:info") == 1, "the dyno count changed: the limit is read again"


def test_a_pool_that_does_not_fit_is_refused_before_the_backup(project, heroku):
    """Defect 3: the refusal came after a Heroku backup had been captured."""
    heroku.web_dynos = 3
    before = catalog_and_data(project.target_db)
    result = project.deploy(DB_POOL_MAX_VALUE="5")
    assert "DB_POOL_MAX 5 × 3 web dyno(s) + 10 reserved = 25 > 20 connections" in one_line(result)
    assert heroku.transfers == [] and "pg:backups:capture" not in heroku.calls(), "no needless capture"
    assert catalog_and_data(project.target_db) == before and heroku.config_patches == []


def test_a_postgresql_17_app_needs_no_local_pg_dump_17(project, heroku):
    """Defect 4: with only Debian's pg_dump 15 the run stopped at "Target reachable", although on
    Heroku the target backup is taken server-side."""
    result = project.deploy(PG_BINDIRS="/usr/lib/postgresql/15/bin")
    assert result.code == 0, result.output[-3000:]
    assert "PostgreSQL 17" in result.output and heroku.transfers[0]["succeeded"]


def test_a_check_command_that_ends_the_shell_is_one_line_without_a_stack_frame(project, heroku):
    """Defect 5: `exit 3` ends the dyno's shell before the CLI's exit-status echo; the CLI crashes
    and its message ended in a JavaScript stack frame."""
    result = project.deploy(APP_DB_CHECK_COMMAND="exit 3")
    assert result.code != 0
    line = one_line(result)
    assert "the dyno's shell ended before it reported an exit status (No exit code returned)" in line
    assert "no top-level exit" in line and report_rows(project.tmp / "reports")["App can connect"][0] == "failed"


def test_a_failed_capture_keeps_pg_dumps_error_lines(project, heroku):
    """Defect 5: only "An error occurred and the backup did not finish." was kept."""
    heroku.fail_backups = True
    before = catalog_and_data(project.target_db)
    result = project.deploy()
    line = one_line(result)
    assert "pg_dump: error: query failed: ERROR: permission denied for table secrets" in line
    assert "the target was not changed" in line and catalog_and_data(project.target_db) == before


def test_a_fir_apps_log_scan_ends_on_its_own(project, heroku):
    """Defect 6: on Fir the CLI ignores -n and streams forever; the scan reads a window of it."""
    heroku.generation = "fir"
    heroku.add_log(datetime.now(UTC) + timedelta(minutes=1), "app[web.1]: FATAL: too many connections for role")
    # the fake's stream stays open 600 s; a window of 15 s holds a loaded machine's CLI start (the real CLI
    # takes 2.5 to 5 s to begin streaming here)
    result = project.deploy(HEROKU_LOG_WINDOW="15", timeout=240)
    assert result.code != 0 and report_rows(project.tmp / "reports")["Logs clean"][0] == "failed"
    assert "too many connections" in result.output
    assert len(heroku.log_sessions) == 1 and "lines" not in heroku.log_sessions[0], "no -n on Fir"
    assert heroku.dyno_commands[0].startswith("launcher "), "the CLI prepends launcher on a CNB (Fir) app"


def test_platform_faults_are_one_line_each_and_leave_the_target_unchanged(project, heroku):
    before = catalog_and_data(project.target_db)
    heroku.html_errors = [r"/config-vars$"]
    html = project.deploy()
    assert "the Heroku API failed (HTTP Error 503 for GET" in one_line(html) and "status.heroku.com" in one_line(html)
    heroku.html_errors = []

    heroku.slow = {r"/dynos$": 8}
    slow = project.deploy(HEROKU_CLI_TIMEOUT="3")
    assert "did not finish within 3s" in one_line(slow) and "HEROKU_CLI_TIMEOUT" in one_line(slow)
    heroku.slow = {}
    assert catalog_and_data(project.target_db) == before and heroku.config_patches == []


def test_capture_status_polls_that_fail_for_a_while_and_a_rotated_password_still_converge(project, heroku):
    heroku.failing_polls = 2  # the CLI tolerates up to 21 failed polls in a row
    first = project.deploy()
    assert first.code == 0, first.output[-3000:]
    assert heroku.transfers[-1]["succeeded"]

    heroku.rotate_password()  # Heroku rotated the credentials (a new release): DATABASE_URL is read on every run
    again = project.deploy()
    assert again.code == 0, again.output[-3000:]
    assert set(again.changed()) <= {"App can connect", "Logs clean"}, "only the app check, for the new release"
    assert heroku.password not in again.output

    heroku.rotate_password(tell_the_app=False)  # rotated while a run holds the old URL
    stale = project.deploy()
    assert "password authentication failed" in one_line(stale)
