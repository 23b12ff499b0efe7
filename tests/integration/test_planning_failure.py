"""
A failure found while planning (``--dry``, or before the confirmation prompt: the README's default
way to run) reads like a failure at execute time: one ``pgconverge:`` line, then the summary (the
failed state, the ones before it as planned, the rest not reached), exit status 1, no prompt and
no pyinfra ``Operation error in <file> line <n>`` prefix. Real pyinfra CLI, real sandbox clusters;
the prompt is answered through a pseudo-terminal, as a user at a terminal would.
"""

from __future__ import annotations

import os
import pty
import subprocess

import pytest

from tests.support import PYINFRA, ROOT, summary_rows

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

UNREACHABLE = "postgresql://whynot_owner:x@127.0.0.1:1/nowhere?sslmode=require"


def _at_a_terminal(project, *args: str, answer: str = "\n", **extra: str) -> subprocess.CompletedProcess:
    """``pyinfra [args] inventory.py deploy.py`` without -y, stdin a pseudo-terminal fed ``answer``."""
    leader, follower = pty.openpty()
    try:
        os.write(leader, answer.encode())
        return subprocess.run([PYINFRA, *args, "inventory.py", "deploy.py"], cwd=ROOT, env=project.env(**extra),
                              stdin=follower, capture_output=True, text=True, timeout=180, check=False)
    finally:
        os.close(leader)
        os.close(follower)


def _assert_one_line_then_summary(output: str, code: int) -> None:
    assert code == 1, output[-3000:]
    failures = [line for line in output.splitlines() if "pgconverge:" in line]
    assert len(failures) == 1 and "127.0.0.1:1/nowhere is not reachable" in failures[0], output[-3000:]
    assert "Operation error" not in output and "common.py" not in output and "Traceback" not in output
    rows = summary_rows(output)
    assert rows["Target reachable"][0] == "failed"
    assert rows["Migrations proven locally"] == ("skipped", "would change; not run: the run stopped while planning")
    for later in ("Target backup captured", "Migrations applied", "Schema verified", "Seed present", "Health reported"):
        assert rows[later] == ("skipped", "not reached: an earlier state failed"), later
    assert "Press enter" not in output  # no confirmation asked for a run that cannot succeed


def test_dry_run_failure_is_one_line_and_the_summary(project):
    result = project.dry(TARGET_DATABASE_URL=UNREACHABLE)
    _assert_one_line_then_summary(result.output, result.code)


def test_failure_before_the_prompt_is_one_line_and_the_summary(project):
    done = _at_a_terminal(project, TARGET_DATABASE_URL=UNREACHABLE)
    _assert_one_line_then_summary(done.stdout + done.stderr, done.returncode)


def test_with_debug_pyinfra_still_names_the_file_and_line(project):
    result = project.dry("--debug", TARGET_DATABASE_URL=UNREACHABLE)
    assert result.code == 1 and "Operation error in" in result.output
    assert summary_rows(result.output)["Target reachable"][0] == "failed"


def test_planned_state_already_converged_says_so_when_a_later_one_fails(project):
    """The second state's plan found nothing to do; the run then stops at the migrations' history."""
    assert project.deploy().code == 0
    project.write_migration("003_create_room_participants.sql", "SELECT 1;\n")  # edited after apply
    result = project.dry()
    assert result.code == 1 and "Operation error" not in result.output
    rows = summary_rows(result.output)
    assert rows["Target reachable"][0] == "converged"
    assert rows["Target backup captured"][0] == "converged"
    assert rows["Migrations applied"][0] == "failed" and "edited after it was applied" in rows["Migrations applied"][1]


def test_the_prompt_answered_with_enter_converges_with_the_summary(project):
    done = _at_a_terminal(project)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "Press enter to execute" in output
    assert summary_rows(output)["Migrations applied"] == ("changed", "applied 001, 002, 003, 004")
    assert project.applied_versions() == [1, 2, 3, 4]


def test_a_dry_run_that_succeeds_ends_with_the_summary_and_leaves_the_reports(project):
    """Every run ends with a summary, --dry too (rows as planned); a dry run, failed or not, does
    not overwrite latest-run.json (the reports describe the database, which it did not change)."""
    reports = str(project.tmp / "reports")
    assert project.deploy(REPORT_DIR=reports).code == 0
    latest = project.tmp / "reports" / "latest-run.json"
    before = latest.read_text()
    project.write_migration("005_add_topic.sql", "ALTER TABLE rooms ADD COLUMN topic text;\n")
    result = project.dry(REPORT_DIR=reports)
    assert result.code == 0, result.output[-3000:]
    rows = summary_rows(result.output)
    assert rows["Migrations applied"][0] == "would change"
    assert rows["Target reachable"][0] == "converged"
    assert "report: not written (--dry)" in result.output
    assert project.dry(TARGET_DATABASE_URL=UNREACHABLE, REPORT_DIR=reports).code == 1
    assert latest.read_text() == before
