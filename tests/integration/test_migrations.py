"""
The migration engine against the sandbox's real PostgreSQL: partial failure, drift refusals,
baseline, lock and lock_timeout, dry run. Every test drives the real pyinfra CLI.
"""

import psycopg
import pytest

from tests.support import admin, catalog_and_data, query, report_rows

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters


def five_files(project, third="CREATE TABLE t3 (id int PRIMARY KEY);\nINSERT INTO t3 VALUES (3);\n"):
    for old in project.migrations.glob("*.sql"):
        old.unlink()
    project.write_migration("001_t1.sql", "CREATE TABLE t1 (id int PRIMARY KEY);\n")
    project.write_migration("002_t2.sql", "CREATE TABLE t2 (id int PRIMARY KEY REFERENCES t1);\n")
    project.write_migration("003_t3.sql", third)
    project.write_migration("004_t4.sql", "CREATE TABLE t4 (id int);\nCREATE INDEX t4_id_idx ON t4 (id);\n")
    project.write_migration("005_t5.sql", "CREATE VIEW v5 AS SELECT id FROM t4;\n")
    project.seeds = project.tmp / "no-seed"


def test_fresh_apply_then_second_run_yields_nothing(project):
    five_files(project)
    first = project.deploy()
    assert first.code == 0, first.output[-2000:]
    assert "Migrations applied" in first.changed()
    assert project.applied_versions() == [1, 2, 3, 4, 5]
    rows = query(project.target_db, "SELECT version, name, length(checksum), execution_ms >= 0, applied_by <> '' "
                                    "FROM schema_migrations ORDER BY version")
    assert rows[0] == (1, "t1", 64, True, True)
    second = project.deploy()
    assert second.changed() == []


def test_file_three_of_five_fails_then_fixed_rerun_applies_the_rest(project):
    # The shadow proof would catch the error before the target; prove the good set first so the
    # failing file reaches the target only through its own transaction (a file that fails only
    # there, e.g. because of the target's data).
    five_files(project, third="CREATE TABLE t3 (id int PRIMARY KEY);\nINSERT INTO t3 VALUES (1), (1);\n")
    query(project.target_db, "SELECT 1")
    result = project.deploy()
    assert result.code != 0
    assert "migration 003_t3.sql" in result.output and "duplicate key" in result.output
    rows = report_rows(project.tmp / "reports")  # caught by the proof first: the target was not touched
    assert rows["Migrations proven locally"][0] == "failed" and rows["Migrations applied"][0] == "skipped"
    assert project.applied_versions() == []

    # Now a failure that only the target shows: its data breaks file 3.
    five_files(project)
    project.write_migration("003_t3.sql", "CREATE TABLE t3 (id int PRIMARY KEY);\nINSERT INTO t3 SELECT id FROM t1;\n"
                                          "ALTER TABLE t1 ADD CONSTRAINT t1_small CHECK (id < 10);\n")
    assert project.deploy().code == 0
    assert project.applied_versions() == [1, 2, 3, 4, 5]


def test_failure_in_the_target_leaves_nothing_of_the_file(project):
    five_files(project)
    # An earlier write to t1 in the file: the risk step's read-only data check leaves the CHECK to the target.
    project.write_migration("003_t3.sql", "CREATE TABLE t3 (id int PRIMARY KEY); UPDATE t1 SET id = id WHERE false;\n"
                                          "ALTER TABLE t1 ADD CONSTRAINT t1_small CHECK (id < 10);\n")
    # Rows the shadow does not have make file 3 fail only on the target.
    project.write_migration("002_t2.sql", "CREATE TABLE t2 (id int PRIMARY KEY REFERENCES t1);\n")
    only_two = project.tmp / "first-two"
    only_two.mkdir()
    for name in ("001_t1.sql", "002_t2.sql"):
        (only_two / name).write_text((project.migrations / name).read_text())
    assert project.deploy(MIGRATIONS_DIR=str(only_two)).code == 0
    query(project.target_db, "INSERT INTO t1 VALUES (50)")

    failed = project.deploy()
    assert failed.code != 0
    assert "migration 003_t3.sql line 2" in failed.output and "t1_small" in failed.output
    assert "nothing of it was kept" in failed.output
    assert project.applied_versions() == [1, 2]
    assert "t3" not in project.tables()

    query(project.target_db, "DELETE FROM t1 WHERE id = 50")
    fixed = project.deploy()
    assert fixed.code == 0, fixed.output[-2000:]
    assert project.applied_versions() == [1, 2, 3, 4, 5]


def _refused(project, words):
    before = catalog_and_data(project.target_db)
    result = project.deploy()
    assert result.code != 0
    assert words in result.output, result.output[-2000:]
    assert "Traceback" not in result.output
    assert catalog_and_data(project.target_db) == before
    return result


def test_edited_applied_file_is_refused(project):
    assert project.deploy().code == 0
    path = project.migrations / "002_create_rooms.sql"
    path.write_text(path.read_text() + "\nCREATE INDEX rooms_name_idx ON rooms (name);\n")
    project.write_migration("005_more.sql", "CREATE TABLE more (id int);\n")
    _refused(project, "migration 002_create_rooms.sql was edited after it was applied (checksum")


def test_unknown_applied_version_is_refused(project):
    assert project.deploy().code == 0
    (project.migrations / "004_create_messages.sql").unlink()
    _refused(project, "version 4 (create_messages) is applied in the target but has no file")


def test_out_of_order_file_is_refused(project):
    for old in project.migrations.glob("*.sql"):
        old.unlink()
    project.seeds = project.tmp / "no-seed"
    project.write_migration("010_a.sql", "CREATE TABLE a (id int);\n")
    project.write_migration("020_b.sql", "CREATE TABLE b (id int);\n")
    assert project.deploy().code == 0
    project.write_migration("015_late.sql", "CREATE TABLE late (id int);\n")
    _refused(
        project,
        "migration 015_late.sql is not in the target's schema_migrations, but version(s) after it are (20): "
        "if the file is new, it is out of order: renumber it above 20",
    )


def test_existing_tables_need_a_baseline_then_baseline_adopts_them(project):
    for name in ("001_create_users.sql", "002_create_rooms.sql"):
        with admin("target", project.target_db) as conn:
            conn.execute("SET ROLE whynot_owner")
            conn.execute((project.migrations / name).read_text().encode())
    _refused(project, "set BASELINE_VERSION=N")
    adopted = project.deploy(BASELINE_VERSION="2")
    assert adopted.code == 0, adopted.output[-2000:]
    assert query(project.target_db, "SELECT version, kind FROM schema_migrations ORDER BY version") == [
        (1, "baseline"),
        (2, "baseline"),
        (3, "applied"),
        (4, "applied"),
    ]
    assert project.deploy(BASELINE_VERSION="2").changed() == []


def test_lock_held_elsewhere_times_out_with_the_holder_named(project):
    from tasks.core.lock import LOCK_KEY

    with psycopg.connect(project_conninfo(project), autocommit=True) as holder:
        holder.execute("SET application_name = 'other-deploy'")
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        result = project.deploy(MIGRATION_LOCK_WAIT="1")
    assert result.code != 0
    assert "another deploy holds the migration lock after 1s" in result.output
    assert "application other-deploy" in result.output and "pid " in result.output
    assert project.applied_versions() == []
    assert project.deploy().code == 0


def test_lock_timeout_stops_a_migration_stuck_behind_traffic(project):
    assert project.deploy().code == 0
    project.write_migration("005_users_bio.sql", "ALTER TABLE users ADD COLUMN bio text;\n")
    with psycopg.connect(project_conninfo(project)) as traffic:
        traffic.execute("LOCK TABLE users IN ACCESS SHARE MODE")  # a long read holds the table
        result = project.deploy(
            MIGRATION_LOCK_TIMEOUT="500ms", LOCK_RETRY_S="0"
        )  # no retry (tests/integration/test_risk.py)
        traffic.rollback()
    assert result.code != 0
    assert "migration 005_users_bio.sql" in result.output and "MIGRATION_LOCK_TIMEOUT" in result.output
    assert project.applied_versions() == [1, 2, 3, 4]
    assert project.deploy().code == 0
    assert project.applied_versions() == [1, 2, 3, 4, 5]


def test_shadow_failure_names_file_and_line_and_leaves_no_shadow(project):
    project.write_migration("005_typo.sql", "CREATE TABLE ok (id int);\nCREATE TABEL oops (id int);\n")
    result = project.deploy()
    assert result.code != 0
    assert "migration 005_typo.sql line 2" in result.output and "syntax error" in result.output
    assert project.tables() == []  # the target was not touched
    assert query(
        "postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'pgconverge_shadow_%'", which="source"
    ) == [(0,)]


def test_proof_is_cached_until_the_files_change(project):
    assert project.deploy().code == 0
    again = project.deploy()
    assert again.operations()["Migrations proven locally"] == "no_change"
    project.write_migration("005_x.sql", "CREATE TABLE x (id int);\n")
    changed = project.deploy()
    assert changed.operations()["Migrations proven locally"] == "success"


def project_conninfo(project):
    import sandbox

    return sandbox.admin_conninfo("target", project.target_db)
