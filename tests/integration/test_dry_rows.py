"""
A dry run says truly what it checked (issue 31 item 6): a state it cannot check before the changes
it waits for says "will check", never "converged"; pyinfra's own change table and its boilerplate
("Detected changes may not include every change") are not printed beside the summary unless
``--debug``; the summary shows the plan, and the run's JSON report records it. Real pyinfra CLI,
real clusters.
"""

import json

import pytest

from tests.support import summary_rows

pytestmark = pytest.mark.cluster


def test_a_first_dry_run_says_which_states_it_will_check_later_and_hides_pyinfras_tables(project):
    dry = project.dry()
    assert dry.code == 0, dry.output[-3000:]
    rows = summary_rows(dry.stderr)
    assert rows["Schema verified"][0] == "will check", rows
    assert rows["Validation reported"][0] == "will check", rows
    assert rows["Health reported"][0] == "will check", rows
    assert "converged" not in {rows[name][0] for name in ("Schema verified", "Validation reported", "Health reported")}
    assert "may not include every change" not in dry.output
    assert "Conditional Change" not in dry.output and "--> Detected changes:" not in dry.output  # its table, heading
    plan = dry.stderr.split("\nplan:\n", 1)[1]
    assert "migrations: 0 applied, 4 pending" in plan and "target: changes (4 pending migration(s)" in plan


def test_with_debug_pyinfras_tables_are_printed(project):
    dry = project.dry("--debug")
    assert "may not include every change" in dry.output


def test_the_run_report_records_the_plan(project):
    reports = project.tmp / "reports"
    first = project.deploy(REPORT_DIR=str(reports))
    assert first.code == 0, first.output[-3000:]
    plan = json.loads((reports / "latest-run.json").read_text())["plan"]
    assert plan["migrations"]["pending"] == [
        "001_create_users.sql",
        "002_create_rooms.sql",
        "003_create_room_participants.sql",
        "004_create_messages.sql",
    ], plan
    assert plan["target"]["changes"] is True and plan["proof_needed"] is True
