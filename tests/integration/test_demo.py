"""
``make demo`` (issue 31 item 7): after ``python -m sandbox up`` it runs ``python -m sandbox.demo``,
the whole deploy twice on the sandbox's clusters, as a user runs it. Its backups, reports and state go
under the sandbox (``.sandbox/demo``), never into the checkout's ``backups/``, ``reports/`` and
``.pgconverge/``; its last line says the clusters still run and names ``make sandbox-down``.
Real clusters (this worker's sandbox), real pyinfra.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

import sandbox as sb
from tests.support import ROOT, report_rows

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

USERS_OWN = ("backups", "reports", "plans", ".pgconverge")


def _listing() -> dict[str, list[str]]:
    return {name: sorted(os.listdir(ROOT / name)) if (ROOT / name).is_dir() else [] for name in USERS_OWN}


def test_make_demo_runs_the_demo_module_after_sandbox_up():
    recipe = re.search(r"^demo: (.*)\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert recipe and "sandbox-up" in recipe.group(1)
    assert recipe.group(2).strip().splitlines() == ["$(BIN)/python -m sandbox.demo"]


def test_the_demo_converges_keeps_its_files_in_the_sandbox_and_names_sandbox_down(sandbox):
    sb.reset_target()
    before = _listing()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "PYTEST")) and k != "ENV_FILE"}
    env.update(PYINFRA_PROGRESS="off")
    try:
        done = subprocess.run([sys.executable, "-m", "sandbox.demo"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300, check=False)
        assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
        demo = sb.SANDBOX / "demo"
        rows = report_rows(demo / "reports")  # the second run's
        assert {status for state, (status, _) in rows.items() if state != "Data copied"} == {"converged"}
        assert [p.suffix for p in (demo / "backups").rglob("*.dump")], "the demo's backup is under the sandbox"
        assert (demo / "state").is_dir()
        assert _listing() == before, "the demo wrote into the checkout's own backups/, reports/, plans/ or .pgconverge/"
        last = done.stdout.strip().splitlines()[-1]  # the wording is the subject here
        assert "still running" in last and "make sandbox-down" in last
        assert str(sandbox["target"]["port"]) in last
    finally:
        sb.reset_target()
