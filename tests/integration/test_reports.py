"""
Reports across runs, through the real pyinfra CLI against the sandbox: every run writes
latest-run.json, latest-validation.json and latest-health.json, converged runs do not grow the
history beyond REPORT_KEEP per kind, everything stays private (0600 files, 0700 folder), and the
health checks are printed once, under the summary.
"""

from __future__ import annotations

import json
import stat

import pytest

from tasks.core import reports

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters


def test_converged_runs_keep_the_report_history_bounded_and_private(project):
    folder = project.tmp / "reports"
    for _ in range(3):
        result = project.deploy(REPORT_DIR=str(folder), REPORT_KEEP="2")
        assert result.code == 0, result.output[-3000:]
    for kind in reports.KINDS:
        assert json.loads((folder / f"latest-{kind}.json").read_text()), kind
        assert len(reports.history(folder, kind)) == 2, kind  # three runs, the newest two kept
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "history").stat().st_mode) == 0o700
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}
    assert json.loads((folder / "latest-run.json").read_text())["ok"] is True


def test_the_health_checks_are_printed_once(project):
    result = project.deploy(REPORT_DIR=str(project.tmp / "reports"))
    assert result.code == 0, result.output[-3000:]
    ssl_lines = [line for line in result.output.splitlines() if " ssl " in line and "in use" in line]
    assert len(ssl_lines) == 1, ssl_lines
    assert result.stderr.index("health:") > result.stderr.index("summary:")
