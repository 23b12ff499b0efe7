"""
Target privileges sufficient against what the engine really does, on the sandbox's real target
(role whynot_owner, not a superuser): the history table that exists needs no CREATE on public;
an existing schema the files write to (even after CREATE SCHEMA IF NOT EXISTS) is checked for
CREATE and USAGE before the backup, with the GRANT.
"""

import pytest

from tests.support import catalog_and_data, query, report_rows

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters


def lines_of(output: str) -> list[str]:
    return [line.split("pgconverge: ", 1)[1] for line in output.splitlines() if "pgconverge: " in line]


def test_an_existing_history_table_needs_no_create_on_public(project):
    assert project.deploy().code == 0
    query(project.target_db, "CREATE SCHEMA app AUTHORIZATION whynot_owner")
    query(project.target_db, "ALTER SCHEMA public OWNER TO postgres")  # no CREATE on public any more
    project.write_migration("005_app.sql", "CREATE SCHEMA IF NOT EXISTS app;\nCREATE TABLE app.t5 (id int);\n")
    result = project.deploy()
    query(project.target_db, "ALTER SCHEMA public OWNER TO pg_database_owner")
    assert result.code == 0, result.output[-2500:]
    assert project.applied_versions() == [1, 2, 3, 4, 5]
    assert project.deploy().changed() == []


def test_an_existing_schema_without_privileges_is_named_before_the_backup(project):
    assert project.deploy().code == 0
    query(project.target_db, "CREATE SCHEMA app")  # owned by postgres: whynot_owner has neither CREATE nor USAGE
    project.write_migration("006_app.sql", "CREATE SCHEMA IF NOT EXISTS app;\nCREATE TABLE app.t6 (id int);\n")
    backups = len(list((project.tmp / "backups" / "target").glob("*.dump")))
    before = catalog_and_data(project.target_db)
    result = project.deploy()
    assert result.code != 0
    assert lines_of(result.output) == [
        (
            "role whynot_owner lacks USAGE on schema app, needed by migration 006_app.sql (without it the "
            "objects would land in another schema, or fail): GRANT USAGE, CREATE ON SCHEMA app TO whynot_owner, "
            "or use the schema owner's URL"
        )
    ], result.output[-2500:]
    assert report_rows(project.tmp / "reports")["Target privileges sufficient"][0] == "failed"
    assert len(list((project.tmp / "backups" / "target").glob("*.dump"))) == backups
    assert catalog_and_data(project.target_db) == before

    query(project.target_db, "GRANT USAGE, CREATE ON SCHEMA app TO whynot_owner")
    assert project.deploy().code == 0 and project.applied_versions() == [1, 2, 3, 4, 6]


def test_permission_denied_during_a_migration_blames_the_privilege_not_the_file(project):
    assert project.deploy().code == 0
    query(project.target_db, "CREATE SCHEMA locked")  # owned by postgres: no USAGE for whynot_owner
    project.write_migration("007_secret.sql", "CREATE TABLE t7 (id int);\nDROP TABLE IF EXISTS locked.old;\n")
    result = project.deploy()
    assert result.code != 0
    lines = lines_of(result.output)
    assert len(lines) == 1 and lines[0].startswith(
        "migration 007_secret.sql line 2: permission denied for schema locked"
    ), lines
    assert lines[0].endswith("GRANT USAGE, CREATE ON SCHEMA locked TO that role, or use the owner's URL, and run again")
    assert "fix the file" not in lines[0]
    assert 7 not in project.applied_versions()


def test_a_table_the_role_cannot_read_fails_the_backup_naming_the_database_and_the_grant(project):
    assert project.deploy().code == 0
    query(project.target_db, "CREATE TABLE bk (id int)")  # owned by postgres, no grant: pg_dump cannot read it
    project.write_migration("005_more.sql", "CREATE TABLE more (id int);\n")
    result = project.deploy()
    assert result.code != 0
    lines = lines_of(result.output)
    assert len(lines) == 1 and lines[0].startswith("pg_dump of postgres") and project.target_db in lines[0], lines
    assert "permission denied for table bk" in lines[0]
    assert lines[0].endswith("GRANT SELECT on it to that role, or use the owner's URL, then run again")
    assert report_rows(project.tmp / "reports")["Target backup captured"][0] == "failed"
    assert 5 not in project.applied_versions()
