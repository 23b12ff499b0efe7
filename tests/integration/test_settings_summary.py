"""
Issue 31 item 3, run as a user runs the deploy: a misspelt setting stops the run before anything
changes (the target untouched, exit 2); other unknown keys of ENV_FILE are listed at the end of the
summary. Real pyinfra CLI, real sandbox clusters.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.cluster


def test_a_misspelt_setting_stops_the_run_and_others_are_listed(project):
    project.env_file.write_text("DATA_MIGRATON=copy\n")
    stopped = project.deploy()
    assert stopped.code == 2, stopped.output[-2000:]
    assert "DATA_MIGRATON: not a setting, but one letter off DATA_MIGRATION" in stopped.output
    assert project.tables() == []
    project.env_file.write_text("MY_APP_FLAG=1\nDATA_MIGRATION=fresh\n")
    done = project.deploy()
    assert done.code == 0, done.output[-2000:]
    notes = [line for line in done.output.splitlines() if "not settings (ignored)" in line]
    assert notes and "MY_APP_FLAG" in notes[-1], done.output[-2000:]
