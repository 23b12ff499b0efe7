"""
What can only fail while running ends in one ``pgconverge:`` line, the same line in the failed
state's summary row, everything before it kept, and a rerun that converges; a traceback only with
--debug. Real pyinfra CLI, real sandbox clusters; a 4 KiB tmpfs stands in for a full disk (root only).
"""

import subprocess

import pytest

from tests.support import catalog_and_data, query, report_rows, summary_rows, tmpfs

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters


@pytest.fixture
def tiny_folder(tmp_path):
    folder = tmpfs(tmp_path / "tiny", "size=4k")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


def pgconverge_lines(output: str) -> list[str]:
    return [line.split("pgconverge: ", 1)[1] for line in output.splitlines() if "pgconverge: " in line]


def test_a_disk_that_fills_while_running_fails_that_state_keeps_the_rest_and_the_rerun_converges(project, tiny_folder):
    result = project.deploy(REPORT_DIR=str(tiny_folder))
    assert result.code != 0
    lines = pgconverge_lines(result.output)
    assert len(lines) == 1 and "no space left on the device" in lines[0], result.output[-3000:]
    assert lines[0].startswith(f"{tiny_folder}/"), lines[0]  # the full disk is named by its path
    assert [
        p.name for p in tiny_folder.iterdir() if p.name.startswith(".") and p.name != ".pgconverge-reports"
    ] == []  # no temporary file left
    rows = summary_rows(result.stderr)  # the printed table: REPORT_DIR is the full disk, no report is written
    assert rows["Validation reported"] == ("failed", lines[0])
    assert rows["Migrations applied"] == ("changed", "applied 001, 002, 003, 004")  # kept
    assert rows["Health reported"] == ("skipped", "not reached: an earlier state failed")
    assert "Traceback" not in result.output

    rerun = project.deploy(REPORT_DIR=str(project.tmp / "reports"))
    assert rerun.code == 0, rerun.output[-3000:]
    assert project.applied_versions() == [1, 2, 3, 4]
    target_rows = {
        name: row
        for name, row in report_rows(project.tmp / "reports").items()
        if name not in ("Data copied", "Source backup captured")
    }  # the source is shared by the suite
    assert {status for status, _ in target_rows.values()} == {"converged"}


def test_with_debug_the_same_failure_also_shows_its_traceback(project, tiny_folder):
    result = project.deploy("--debug", REPORT_DIR=str(tiny_folder))
    assert result.code != 0
    assert "Traceback" in result.output and "OSError" in result.output
    assert any("no space left on the device" in line for line in pgconverge_lines(result.output))


def test_a_missing_privilege_fails_its_own_row_before_the_backup_and_changes_nothing(project):
    query(project.target_db, "ALTER SCHEMA public OWNER TO postgres")  # PostgreSQL 15: owner of the db, not of public
    before = catalog_and_data(project.target_db)
    result = project.deploy()
    assert result.code != 0
    lines = pgconverge_lines(result.output)
    assert len(lines) == 1 and "GRANT CREATE ON SCHEMA public TO whynot_owner" in lines[0]
    rows = report_rows(project.tmp / "reports")
    assert rows["Target privileges sufficient"] == ("failed", lines[0])
    assert rows["Target backup captured"] == ("skipped", "not reached: an earlier state failed")
    assert not list((project.tmp / "backups" / "target").glob("*.dump"))
    assert catalog_and_data(project.target_db) == before

    query(project.target_db, "ALTER SCHEMA public OWNER TO pg_database_owner")
    assert project.deploy().code == 0 and project.applied_versions() == [1, 2, 3, 4]


def test_a_bad_timeout_is_blamed_on_the_setting_before_any_backup(project):
    project.write_migration("005_more.sql", "CREATE TABLE more (id int);\n")
    result = project.deploy(MIGRATION_LOCK_TIMEOUT="99999999999")
    assert result.code == 2
    assert pgconverge_lines(result.output) == [
        (
            "MIGRATION_LOCK_TIMEOUT: '99999999999' is beyond PostgreSQL's limit of 2147483647 ms (about 24 days): "
            "set a shorter duration, or 0 for none"
        )
    ]
    assert not (project.tmp / "backups").exists()


def test_a_tab_or_line_break_in_a_history_name_is_read_and_the_run_converges(project):
    assert project.deploy().code == 0
    query(project.target_db, "UPDATE schema_migrations SET name = E'create\\trooms\\nagain' WHERE version = 2")
    result = project.deploy()
    assert result.code == 0, result.output[-3000:]
    assert report_rows(project.tmp / "reports")["Migrations applied"] == ("converged", "all 4 migration(s) applied")
