"""
Tester's finding 9: a seed row that clashes with a row the application wrote (a UNIQUE key other
than the primary key) fails in one line naming the file, the key and the way forward, in the dry run
too; through the real pyinfra CLI, PostgreSQL deciding the clash.
"""

import pytest

from tests.copy_support import same_schema
from tests.support import query

pytestmark = pytest.mark.cluster


def test_a_seed_row_clashing_with_an_app_row_is_one_line_naming_file_and_key(project, source_db):
    """In copy mode, a seed file for a table empty in the source (the seed fills it)."""
    folder = project.tmp / "seed"
    folder.mkdir()
    project.seeds = folder
    project.extra["DATA_MIGRATION"] = "copy"
    same_schema(project, source_db, "CREATE TABLE colors (id int PRIMARY KEY, name text UNIQUE);")
    (folder / "colors.csv").write_text("id,name\n1,red\n")
    assert project.deploy().code == 0
    query(project.target_db, "INSERT INTO colors VALUES (50, 'new@x')")
    (folder / "colors.csv").write_text("id,name\n1,red\n51,new@x\n")
    dry = project.dry()
    run = project.deploy()
    assert run.code != 0
    assert "unexpected" not in run.output
    line = "seed file colors.csv: the row with (name) = (new@x) clashes with a row already in colors"
    assert line in run.output, run.output[-3000:]
    assert dry.code != 0 and line in dry.output, dry.output[-3000:]
    assert query(project.target_db, "SELECT count(*) FROM colors") == [(2,)]
