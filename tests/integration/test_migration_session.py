"""
Every migration file starts from the same session state, and the per-migration limits hold whatever a
file does (issue 16.2 and 16.7), in the proof and on the target, through the real pyinfra CLI.
"""

import threading
import time

import psycopg
import pytest

import sandbox
from tests.support import query

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

LEAKS = {
    "set search_path": "SET search_path TO app, public;\n",
    "pg_dump's set_config": "SELECT pg_catalog.set_config('search_path', '', false);\n",
    "a DO block": "DO $$ BEGIN PERFORM set_config('search_path', 'app', false); END $$;\n",
}


@pytest.mark.parametrize("ending", LEAKS.values(), ids=LEAKS.keys())
def test_what_a_file_sets_does_not_leak_into_the_next_file(project, ending):
    project.write_migration("005_app.sql", "CREATE SCHEMA app;\n" + ending)
    project.write_migration("006_widgets.sql", "CREATE TABLE widgets (id int PRIMARY KEY);\n")
    together = project.deploy()
    assert together.code == 0, together.output[-2000:]
    assert query(project.target_db, "SELECT schemaname FROM pg_tables WHERE tablename = 'widgets'") == [("public",)]
    again = project.deploy()
    assert again.code == 0 and "Migrations applied" not in again.changed(), again.output[-2000:]  # verified, for good


def test_a_file_that_resets_all_settings_still_obeys_the_lock_timeout(project):
    assert project.deploy().code == 0
    project.write_migration(
        "005_bio.sql", "RESET ALL;\nSET lock_timeout = 0;\nALTER TABLE users ADD COLUMN bio text;\n"
    )
    holder = psycopg.connect(sandbox.admin_conninfo("target", project.target_db))
    holder.execute("LOCK TABLE users IN ACCESS SHARE MODE")  # a long read holds the table for 20 s
    release = threading.Timer(20, holder.rollback)
    release.start()
    try:
        started = time.monotonic()
        result = project.deploy(
            MIGRATION_LOCK_TIMEOUT="500ms", LOCK_RETRY_S="0"
        )  # no retry (tests/integration/test_risk.py)
        waited = time.monotonic() - started
    finally:
        release.cancel()
        holder.close()
    assert result.code != 0, "the migration waited for the lock past MIGRATION_LOCK_TIMEOUT"
    assert "migration 005_bio.sql line 3" in result.output and "MIGRATION_LOCK_TIMEOUT" in result.output
    assert waited < 20
    assert project.applied_versions() == [1, 2, 3, 4]


def test_role_defaults_for_parsing_and_name_resolution_do_not_reach_the_tools_sessions(project):
    """
    Adversary 16/2: a role default ``standard_conforming_strings = off`` broke every later fact session
    (a JSON traceback in "Schema verified"), and a role default search_path set by 005 sent 006's
    ``CREATE TABLE widgets``, in a later deploy, into schema app for good. The tool's sessions pin both.
    """
    admin = sandbox.admin_conninfo("target", project.target_db)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            f"ALTER ROLE {sandbox.TARGET_OWNER} IN DATABASE {project.target_db} SET standard_conforming_strings = off"
        )
    project.write_migration(
        "005_app.sql",
        "CREATE SCHEMA app;\nCREATE TABLE app.notes (t text);\n"
        "INSERT INTO app.notes VALUES ('a\\b');\n"
        "DO $$ BEGIN EXECUTE format('ALTER ROLE CURRENT_USER IN DATABASE %I "
        "SET search_path = app, public', current_database()); END $$;\n",
    )
    first = project.deploy()
    assert first.code == 0, first.output[-2000:]
    assert "Traceback" not in first.output
    project.write_migration("006_widgets.sql", "CREATE TABLE widgets (id int PRIMARY KEY);\n")
    later = project.deploy()
    assert later.code == 0, later.output[-2000:]
    assert query(project.target_db, "SELECT schemaname FROM pg_tables WHERE tablename = 'widgets'") == [("public",)]
    assert query(project.target_db, "SELECT t FROM app.notes") == [("a\\b",)]
    again = project.deploy()
    assert again.code == 0 and "Migrations applied" not in again.changed(), again.output[-2000:]


LET_GO = "DO $$ BEGIN PERFORM pg_advisory_unlock_all(); END $$;\n"  # in a string: the parse tree cannot see it


@pytest.mark.parametrize("marker", ["", "-- pgconverge:no-transaction\n"], ids=["transaction", "no-transaction"])
def test_a_file_that_lets_go_of_the_deploy_lock_is_stopped_before_it_is_kept(project, marker):
    """
    Adversary 16/3: a file that released the advisory lock let a concurrent deploy apply the next file
    twice. The engine checks the lock is still held before each COMMIT (after each statement without
    a transaction) and stops with one line, on the real target database.
    """
    from tasks.migrations.engine import apply_migrations
    from tasks.migrations.failures import MigrationError
    from tasks.migrations.files import read_migration
    from tasks.migrations.session import Limits

    path = project.migrations.parent / "001_let_go.sql"
    path.write_text(marker + "CREATE TABLE before_unlock (i int);\n" + LET_GO + "CREATE TABLE after_unlock (i int);\n")
    files = [read_migration(path)]
    with pytest.raises(MigrationError, match=r"^migration 001_let_go.sql: the deploy's lock was let go") as raised:
        apply_migrations(sandbox.admin_conninfo("target", project.target_db), files, None, Limits())
    tables = {row[0] for row in query(project.target_db, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert "after_unlock" not in tables
    assert ("before_unlock" in tables) == bool(marker)  # a no-transaction file keeps what ran before
    assert "\n" not in str(raised.value)
    assert query(project.target_db, "SELECT version FROM schema_migrations") == []


def test_a_file_that_turns_off_standard_conforming_strings_is_refused_before_anything_runs(project):
    """
    Adversary 16/1: split with the setting on, run with it off, this file's hidden COMMIT ran on the
    target, kept part of it and stuck the target. Now it is refused by line before any connection.
    """
    assert project.deploy().code == 0
    project.write_migration(
        "005_escaped.sql",
        "SET standard_conforming_strings = off;\n"
        "INSERT INTO users (email) VALUES ('a\\', $$'); COMMIT; CREATE TABLE escaped2 (i int); SELECT 1 --$$);\n",
    )
    result = project.deploy()
    assert result.code != 0 and "Traceback" not in result.output
    assert "migration 005_escaped.sql line 1: changing standard_conforming_strings is not allowed" in result.output
    assert "escaped2" not in project.tables() and project.applied_versions() == [1, 2, 3, 4]


def test_a_schema_named_after_the_targets_user_resolves_alike_in_the_proof_and_on_the_target(project):
    """Tester P6: the proof ran as another role, so "$user" in search_path named another schema there:
    an unqualified CREATE TABLE after CREATE SCHEMA <target's user> went to public in the proof and to that
    schema on the target, and schema verification failed for good."""
    owner = sandbox.TARGET_OWNER
    project.write_migration("005_own.sql", f"CREATE SCHEMA {owner};\nCREATE TABLE {owner}.x (id int);\n")
    project.write_migration("006_y.sql", "CREATE TABLE y (id int);\n")
    first = project.deploy()
    assert first.code == 0, first.output[-2500:]
    assert query(project.target_db, "SELECT schemaname FROM pg_tables WHERE tablename = 'y'") == [(owner,)]
    again = project.deploy()
    assert again.code == 0 and again.changed() == [], again.output[-2500:]


def test_create_schema_authorization_current_user_without_a_name_is_refused(project):
    project.write_migration("005_mine.sql", "CREATE SCHEMA AUTHORIZATION CURRENT_USER;\n")
    result = project.deploy()
    assert result.code != 0
    assert "CREATE SCHEMA AUTHORIZATION CURRENT_USER" in result.output and "name the schema" in result.output
    assert "pgconverge_shadow" not in result.output
