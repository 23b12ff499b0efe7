"""
The final summary, the run report and the schema picture, through the real pyinfra CLI against
the sandbox: what changed on a first run, "converged" everywhere on a second, "failed" and
"skipped" after a failure; the JSON parses and holds no password; the picture is redrawn only
when the schema changes.
"""

import json

import pytest

from tests.support import sandbox_urls, summary_rows

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters


def test_first_run_lists_changes_second_run_converged_everywhere(project):
    reports = project.tmp / "reports"
    first = project.deploy(REPORT_DIR=str(reports))
    assert first.code == 0, first.output[-2000:]
    rows = summary_rows(first.stderr)
    assert rows["Migrations applied"] == ("changed", "applied 001, 002, 003, 004")
    assert rows["Seed present"] == ("changed", "inserted 5 seed row(s)")
    assert rows["Data copied"] == ("skipped", "DATA_MIGRATION=fresh (schema and seed only)")
    assert next(iter(rows)) == "Migrations proven locally" and list(rows)[-1] == "Health reported"
    assert "health:" in first.stderr and "green  ssl" in first.stderr

    picture = reports / "schema.svg"
    assert picture.read_text().lstrip().startswith("<?xml") and "room_participants" in picture.read_text()
    drawn_at = picture.stat().st_mtime_ns

    second = project.deploy(REPORT_DIR=str(reports))
    rows = summary_rows(second.stderr)
    assert {status for name, (status, _) in rows.items() if name != "Data copied"} == {"converged"}
    assert picture.stat().st_mtime_ns == drawn_at  # the schema did not change

    report = json.loads((reports / "latest-run.json").read_text())
    assert report["ok"] is True and len(report["states"]) == len(rows)
    text = (reports / "latest-run.json").read_text() + first.output + second.output
    for url in sandbox_urls().values():
        assert url.split(":")[2].split("@")[0] not in text


def test_a_failure_is_shown_and_later_states_are_skipped(project):
    project.write_migration("005_broken.sql", "CREATE TABLE broken (id int REFERENCES nowhere);\n")
    result = project.deploy(REPORT_DIR=str(project.tmp / "reports"))
    assert result.code != 0
    rows = summary_rows(result.stderr)
    status, detail = rows["Migrations proven locally"]
    assert status == "failed" and "005_broken.sql" in detail
    assert rows["Migrations applied"] == ("skipped", "not reached: an earlier state failed")
    report = json.loads((project.tmp / "reports" / "latest-run.json").read_text())
    assert report["ok"] is False
