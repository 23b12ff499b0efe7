"""
The risk gate and the data checks hold on every run of the same pending files (issue 27, tester's
item 1): after the first run's proof, later runs read the kept split of each file (no parse trees),
and the refusal must not vanish. PostgreSQL is the oracle: the target unchanged, no backup taken.
"""

from __future__ import annotations

import pytest

from tests.support import catalog_and_data, query

pytestmark = pytest.mark.cluster


def backups_taken(project) -> list:
    folder = project.tmp / "backups" / "target"
    return sorted(folder.glob("*")) if folder.exists() else []


def test_an_index_build_and_a_data_check_are_refused_on_every_run(project):
    done = project.deploy()
    assert done.code == 0, done.output
    query(
        project.target_db,
        "INSERT INTO users (email, display_name) SELECT 'u' || g || '@x', repeat('n', 70) "
        "FROM generate_series(1, 20000) g",
    )
    before, backups = catalog_and_data(project.target_db), backups_taken(project)
    project.write_migration("005_index.sql", "CREATE INDEX users_display_idx ON users (display_name);\n")
    project.write_migration(
        "006_check.sql", "ALTER TABLE users ADD CONSTRAINT users_name_n CHECK (display_name <> repeat('n', 70));\n"
    )
    for attempt in (1, 2, 3):
        done = project.deploy(RISK_TABLE_MB="1")
        assert done.code != 0, (attempt, done.output)
        assert "2 table lock(s) measured, 2 high" in done.output, (attempt, done.output[-3000:])
        assert "005_index.sql:1 SHARE + index build of public.users (" in done.output, attempt  # printed with -y
        assert "violate it" in done.output and "006_check.sql line 1" in done.output, (attempt, done.output)
        assert catalog_and_data(project.target_db) == before and backups_taken(project) == backups, attempt
    dry = project.dry(RISK_TABLE_MB="1", RISK_FAIL_ON="never")
    assert "SHARE + index build of public.users (" in dry.output, dry.output
    assert 'of ""' not in dry.output, dry.output


def test_the_files_search_path_names_the_table_the_gate_sizes(project):
    """Tester item 5: an unqualified name after the file's own SET search_path is the table in that
    schema, not 'made in this run, no risk'."""
    project.write_migration("005_app.sql", "CREATE SCHEMA app;\nCREATE TABLE app.sq (id int, pad text);\n")
    done = project.deploy()
    assert done.code == 0, done.output
    query(project.target_db, "INSERT INTO app.sq SELECT g, repeat('p', 60) FROM generate_series(1, 30000) g")
    before, backups = catalog_and_data(project.target_db), backups_taken(project)
    check = "SET search_path = app;\nALTER TABLE sq ADD CONSTRAINT small CHECK (id < 100);\n"
    project.write_migration("006_check.sql", check)
    for attempt in (1, 2):
        done = project.deploy(RISK_TABLE_MB="1000")
        assert done.code != 0 and "006_check.sql line 2" in done.output, (attempt, done.output)
        assert "29901 row(s) violate it" in done.output, (attempt, done.output)
        assert catalog_and_data(project.target_db) == before and backups_taken(project) == backups, attempt


def test_vacuum_full_in_a_no_transaction_file_is_refused_on_a_large_table(project):
    """Tester item 3: no-transaction files were invisible to the gate."""
    done = project.deploy()
    assert done.code == 0, done.output
    query(project.target_db, "INSERT INTO users (email, display_name) SELECT 'u' || g || '@x', repeat('n', 70) "
          "FROM generate_series(1, 20000) g")
    before, backups = catalog_and_data(project.target_db), backups_taken(project)
    project.write_migration("005_vacuum.sql", "-- pgconverge:no-transaction\nVACUUM FULL users;\n")
    done = project.deploy(RISK_TABLE_MB="1")
    assert done.code != 0 and "005_vacuum.sql line 2 rewrites public.users" in done.output, done.output
    assert catalog_and_data(project.target_db) == before and backups_taken(project) == backups
