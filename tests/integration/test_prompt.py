"""
pyinfra's prompt, answered as a user answers it, through the real pyinfra CLI against the sandbox's
PostgreSQL clusters: an answer other than Enter ends the run with exit status 1 and a summary saying
nothing was changed; without a terminal (stdin closed) restore.py says so in one line, no traceback.
A failed run shows our summary, not pyinfra's own failure lines.
"""

import subprocess

import pytest

from tests.support import PYINFRA, ROOT

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters


def run(project, *args: str, answer: str | None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYINFRA, *args],
        cwd=ROOT,
        env=project.env(),
        input=answer,
        text=True,
        capture_output=True,
        timeout=180,
        check=False,
        stdin=None if answer is not None else subprocess.DEVNULL,
    )


def test_answering_n_at_the_prompt_exits_1_with_a_summary_and_changes_nothing(project, source_db):
    done = run(project, "inventory.py", "deploy.py", answer="n\n")
    assert done.returncode == 1, done.stderr[-3000:]
    assert "not confirmed at the prompt: nothing was changed" in done.stderr
    assert "Migrations applied" in done.stderr  # the summary, with the plan
    assert project.applied_versions() == []


def test_restore_without_a_terminal_says_so_in_one_line(project, source_db):
    assert project.deploy().code == 0
    done = run(project, "inventory.py", "restore.py", answer=None)
    assert "Traceback" not in done.stderr and "EOFError" not in done.stderr
    assert "no terminal to answer the prompt" in done.stderr and done.returncode == 1
    dry = run(project, "--dry", "inventory.py", "restore.py", answer=None)
    assert "--> Detected changes:" not in dry.stdout + dry.stderr, dry.stderr[-3000:]


def test_a_failed_run_shows_no_pyinfra_failure_lines(project, source_db):
    project.write_migration("005_drop.sql", "ALTER TABLE rooms DROP COLUMN is_private;\n")  # the seed names it
    failed = project.deploy()
    assert failed.code != 0
    assert "executed 0 commands" not in failed.output and "No hosts remaining" not in failed.output
