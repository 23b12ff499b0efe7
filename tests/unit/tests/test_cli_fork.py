"""tests/cli_fork.py: a CLI run forked from the helper answers as a new ``pyinfra`` process does (exit
status, the ``pgconverge:`` line, what pyinfra prints), for runs that stop before any database is
reached (no cluster needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import cli_fork
from tests.support import summary_rows

ROOT = Path(__file__).resolve().parents[3]
PYINFRA = str(Path(sys.executable).with_name("pyinfra"))


def both(
    tmp_path: Path, *args: str, **settings: str
) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    (tmp_path / "empty.env").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "PYTEST"))}
    env.update(
        ENV_FILE=str(tmp_path / "empty.env"),
        STATE_DIR=str(tmp_path / "state"),
        REPORT_DIR=str(tmp_path / "reports"),
        BACKUP_DIR=str(tmp_path / "backups"),
        PYINFRA_PROGRESS="off",
        **settings,
    )
    argv = [PYINFRA, *args, "inventory.py", "deploy.py"]
    forked = cli_fork.run(argv, cwd=ROOT, env=env, timeout=120)
    real = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    return forked, real


def pgconverge_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if "pgconverge:" in line]


@pytest.mark.parametrize(
    "settings, status",
    [
        ({"TARGET_DATABASE_URL": ""}, 2),
        (
            {
                "TARGET_DATABASE_URL": "postgres://u:p@127.0.0.1:1/db",
                "SOURCE_DATABASE_URL": "postgres://u:p@127.0.0.1:2/s",
            },
            1,
        ),
    ],
)
def test_a_forked_run_exits_and_speaks_as_a_new_process_does(tmp_path, settings, status):
    forked, real = both(tmp_path, "-y", **settings)
    assert forked.returncode == real.returncode == status, forked.stderr[-2000:]
    output = forked.stdout + forked.stderr
    assert pgconverge_lines(output) == pgconverge_lines(real.stdout + real.stderr) != []
    if "summary:\n" in real.stderr:  # printed at exit (an exit handler): the forked run prints it too
        assert summary_rows(forked.stderr) == summary_rows(real.stderr)


def test_the_helper_is_used_and_a_timeout_kills_the_run(tmp_path, monkeypatch):
    assert cli_fork._helper_socket() is not None
    with pytest.raises(subprocess.TimeoutExpired):
        cli_fork.run(
            [PYINFRA, "-y", "@local", "exec", "--", "sleep", "5"], cwd=tmp_path, env=dict(os.environ), timeout=1
        )
