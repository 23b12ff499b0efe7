"""
A table whose name holds a tab or a line break (legal in PostgreSQL) does not break the facts
that carry names: the validation report counts it by its exact name. Real target cluster.
"""

import json

import pytest

from tests.support import query, summary_rows

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters


def test_a_tab_or_line_break_in_a_table_name_is_counted_by_its_exact_name(project):
    project.write_migration("005_odd.sql", 'CREATE TABLE "new\nline" (id int);\nCREATE TABLE "ta\tb" (id int);\n'
                                           'INSERT INTO "ta\tb" VALUES (1), (2);\n')
    result = project.deploy(REPORT_DIR=str(project.tmp / "reports"))
    assert "ValueError" not in result.output and "not enough values" not in result.output
    status, detail = summary_rows(result.stderr)["Validation reported"]
    assert status == "converged", detail
    text = (project.tmp / "reports" / "latest-validation.json").read_text()
    assert '"public.ta\\tb"' in text and '"public.new\\nline"' in text  # JSON-escaped exact names
    assert json.loads(text)  # a whole document


def test_control_characters_in_names_and_places_are_escaped_where_output_is_rendered(project):
    """Tester P8: a table made by hand on the target named with ESC was printed raw in the schema diff, and
    BACKUP_DIR/REPORT_DIR paths with ESC raw in the summary's places lines (escaped in one place now:
    the summary's rendering and pyinfra's host.log)."""
    assert project.deploy().code == 0
    query(project.target_db, 'CREATE TABLE "evil\x1b[31mred" (id int)')
    backups = project.tmp / "back\x1b[2Jups"
    result = project.deploy(BACKUP_DIR=str(backups))
    assert "\x1b[31m" not in result.output and "\x1b[2J" not in result.output, result.output[-2500:]
    assert "evil\\x1b[31mred" in result.output, result.output[-2500:]
    assert "back\\x1b[2Jups" in result.output
