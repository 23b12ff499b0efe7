"""
A table whose name holds a tab or a line break (legal in PostgreSQL) does not break the facts
that carry names: the validation report counts it by its exact name. Real target cluster.
"""

import pytest
import json

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
