"""
Every line is true (issue 29 class 8), against the sandbox's real target cluster: a session the
server ends (``pg_terminate_backend``, as an administrator or a failover does) while seed files load,
or while a no-transaction migration runs, is named as that, not as a fault of the file, and the
no-transaction file's line does not say both "kept" and "rolled back".
"""

from __future__ import annotations

import shutil
import threading
import time

import pytest

import sandbox
from tasks.data import seed_load
from tasks.data.seed import read_seed_files
from tasks.migrations.engine import apply_migrations
from tasks.migrations.failures import MigrationError
from tasks.migrations.files import read_migrations
from tasks.migrations.session import Limits
from tests.support import MIGRATIONS, SEEDS, admin, query

pytestmark = pytest.mark.cluster


def terminate_when(dbname: str, like: str, deadline_s: float = 60) -> None:
    """End the session of ``dbname`` running a query like ``like`` (SQL LIKE), once it does."""
    deadline = time.monotonic() + deadline_s
    text = "SELECT pid FROM pg_stat_activity WHERE datname = %s AND query LIKE %s AND pid <> pg_backend_pid()"
    while not (pids := query("postgres", text, (dbname, like))):
        assert time.monotonic() < deadline, f"no session ran {like}"
        time.sleep(0.05)
    query("postgres", "SELECT pg_terminate_backend(%s)", (pids[0][0],))


def run(target, outcome: dict) -> None:
    try:
        target()
    except Exception as exc:  # noqa: BLE001 - the test reads it
        outcome["error"] = exc


def test_a_session_ended_during_a_seed_load_is_not_blamed_on_the_file(target_db):
    conninfo = sandbox.admin_conninfo("target", target_db)
    apply_migrations(conninfo, read_migrations(MIGRATIONS), None, Limits())
    app = admin("target", target_db)
    app.autocommit = False
    app.execute("LOCK TABLE rooms IN ACCESS EXCLUSIVE MODE")  # the load waits there, a file in hand
    outcome: dict = {}
    loading = threading.Thread(target=run, args=(lambda: seed_load.load(conninfo, read_seed_files(SEEDS), "insert"),
                                                 outcome))
    loading.start()
    try:
        terminate_when(target_db, "%CREATE TEMP TABLE%rooms%")
        loading.join(60)
    finally:
        app.close()
    error = str(outcome.get("error"))
    assert isinstance(outcome.get("error"), seed_load.SeedError), outcome
    assert "fix the file" not in error and "the files are not at fault" in error
    assert "the server ended the session" in error and "nothing was inserted" in error


def test_a_no_transaction_file_cut_off_says_what_was_kept_and_nothing_false(target_db, tmp_path):
    conninfo = sandbox.admin_conninfo("target", target_db)
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, folder)
    (folder / "005_slow_index.sql").write_text(
        "-- pgconverge:no-transaction\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_lower_email ON users (lower(email));\n"
        "SELECT pg_sleep(8);\n")
    outcome: dict = {}
    applying = threading.Thread(target=run, args=(lambda: apply_migrations(conninfo, read_migrations(folder), None,
                                                                           Limits()), outcome))
    applying.start()
    terminate_when(target_db, "%pg_sleep(8)%")
    applying.join(60)
    error = str(outcome.get("error"))
    assert isinstance(outcome.get("error"), MigrationError), outcome
    assert "005_slow_index.sql line 3" in error and "statements before this one were kept" in error
    assert "rolled back" not in error and "the file is re-run whole" in error
    assert apply_migrations(conninfo, read_migrations(folder), None, Limits()).pending  # run again: it finishes


NEWER_SYNTAX = ("CREATE TABLE newer (id int);\n"
                "-- a subquery in FROM without an alias: PostgreSQL 16 and later\n"
                "CREATE VIEW newer_view AS\n"
                "SELECT *\n"
                "  FROM (SELECT 1 AS n);\n")


def test_a_file_valid_on_the_target_failing_on_an_older_proof_server_names_its_line_and_the_older_server(
        project, source_db):
    """The sandbox's source (the proof server) is PostgreSQL 15, its target 17."""
    assert project.deploy().code == 0
    project.write_migration("005_newer.sql", NEWER_SYNTAX)
    failed = project.deploy()
    assert failed.code != 0
    line = next(x for x in failed.output.splitlines() if "005_newer.sql" in x and "pgconverge:" in x)
    assert "migration 005_newer.sql line 5: subquery in FROM must have an alias" in line, line
    assert "on PostgreSQL 15, older than the target's 17" in line and "SOURCE_DATABASE_URL" in line
    assert project.applied_versions() == [1, 2, 3, 4]
