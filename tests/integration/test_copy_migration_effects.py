"""
Tester's findings 5 and 6, through the real pyinfra CLI in copy mode: a pending migration that writes
rows of a table the copy fills, or that forces row level security, is refused by the dry run and the
run alike before the backup and before any migration (old code: applied, then the copy failed for
ever, or silently undid it). PostgreSQL decides what is applied; pglast reads the files.
"""

from __future__ import annotations

import pytest

from tests.copy_support import same_schema
from tests.support import query

pytestmark = pytest.mark.cluster

TABLE = "CREATE TABLE t (id int PRIMARY KEY, a int);"


def _backups(project) -> list:
    folder = project.tmp / "backups" / "target"
    return sorted(folder.glob("*")) if folder.exists() else []


@pytest.mark.parametrize("conflict", ["refuse", "replace"])
def test_a_migration_that_changes_rows_the_copy_fills_is_refused_before_the_backup(project, source_db, conflict):
    project.extra["DATA_MIGRATION"] = "copy"
    project.seeds = project.tmp / "no-seed"
    same_schema(project, source_db, TABLE)
    query(source_db, "INSERT INTO t VALUES (1, 1), (2, 2)", which="source")
    assert project.deploy().code == 0
    versions, backups = project.applied_versions(), _backups(project)
    project.write_migration("901_bump.sql", "UPDATE t SET a = a + 1000;")
    for result in (project.dry(COPY_CONFLICT=conflict), project.deploy(COPY_CONFLICT=conflict)):
        assert result.code != 0, result.output[-3000:]
        assert "migration 901_bump.sql changes rows (UPDATE public.t)" in result.output, result.output[-3000:]
        assert project.applied_versions() == versions
        assert _backups(project) == backups
    assert query(project.target_db, "SELECT a FROM t ORDER BY id") == [(1,), (2,)]


def test_a_migration_forcing_row_level_security_is_refused_before_the_backup(project, source_db):
    project.extra["DATA_MIGRATION"] = "copy"
    project.seeds = project.tmp / "no-seed"
    forced = TABLE + ("ALTER TABLE t ENABLE ROW LEVEL SECURITY; ALTER TABLE t FORCE ROW LEVEL SECURITY;"
                      "CREATE POLICY mine ON t USING (a > 1);")
    same_schema(project, source_db, forced)
    query(source_db, "INSERT INTO t VALUES (1, 1), (2, 2)", which="source")
    for result in (project.dry(), project.deploy()):
        assert result.code != 0, result.output[-3000:]
        assert "sets FORCE ROW LEVEL SECURITY on public.t" in result.output, result.output[-3000:]
        assert 900 not in project.applied_versions()
        assert _backups(project) == []


def test_a_cascade_a_pending_migration_adds_to_a_replaced_table_is_refused_before_the_backup(project, source_db):
    """Tester's finding 4. Old code: the dry run said nothing of public.c; the run backed up, applied the
    migration, then refused saying "nothing was changed"."""
    project.extra["DATA_MIGRATION"] = "copy"
    project.seeds = project.tmp / "no-seed"
    ddl = "CREATE TABLE p (id int PRIMARY KEY, v text); CREATE TABLE c (id int PRIMARY KEY, p_id int);"
    same_schema(project, source_db, ddl)
    query(source_db, "INSERT INTO p VALUES (1, 'a'), (2, 'b')", which="source")
    assert project.deploy().code == 0
    query(project.target_db, "INSERT INTO c VALUES (1, 1), (2, 2)")  # the app's rows
    query(source_db, "UPDATE p SET v = 'changed' WHERE id = 1;"
          "ALTER TABLE c ADD CONSTRAINT c_p FOREIGN KEY (p_id) REFERENCES p ON DELETE CASCADE;", which="source")
    project.write_migration("901_key.sql",
                            "ALTER TABLE c ADD CONSTRAINT c_p FOREIGN KEY (p_id) REFERENCES p ON DELETE CASCADE;")
    versions, backups = project.applied_versions(), _backups(project)
    for result in (project.dry(COPY_CONFLICT="replace"), project.deploy(COPY_CONFLICT="replace")):
        assert result.code != 0, result.output[-3000:]
        assert "migration 901_key.sql adds a foreign key on public.c that acts on a DELETE of public.p" \
            in result.output, result.output[-3000:]
        assert project.applied_versions() == versions
        assert _backups(project) == backups
    assert query(project.target_db, "SELECT count(*) FROM c") == [(2,)]


def test_a_constraint_the_source_rows_break_is_refused_before_the_backup(project, source_db):
    """Tester's finding 6 (CHECK). Old code: the migration was applied, then the copy failed."""
    project.extra["DATA_MIGRATION"] = "copy"
    project.seeds = project.tmp / "no-seed"
    same_schema(project, source_db, TABLE)
    query(source_db, "INSERT INTO t VALUES (1, 1), (2, 200)", which="source")
    assert project.deploy().code == 0
    query(source_db, "DELETE FROM t", which="source")  # the source changes its rows (and keeps one bad)
    query(source_db, "INSERT INTO t VALUES (1, 1), (3, 300)", which="source")
    query(source_db, "ALTER TABLE t ADD CONSTRAINT small CHECK (a < 100) NOT VALID", which="source")
    project.write_migration("901_small.sql", "ALTER TABLE t ADD CONSTRAINT small CHECK (a < 100) NOT VALID;"
                            "ALTER TABLE t ALTER COLUMN a SET NOT NULL;")
    versions, backups = project.applied_versions(), _backups(project)
    for result in (project.dry(COPY_CONFLICT="replace"), project.deploy(COPY_CONFLICT="replace")):
        assert result.code != 0, result.output[-3000:]
        assert "migration 901_small.sql adds CHECK (a < 100) to public.t, which 1 row(s) of the source break" \
            in result.output, result.output[-3000:]
        assert project.applied_versions() == versions
        assert _backups(project) == backups
