"""
A run costs what its work costs (issue 21), counted by the servers themselves, not by our code:
``pg_stat_database.sessions`` counts every connection made to a database, and
``pg_stat_user_tables.seq_scan`` every read of ``schema_migrations``. Real pyinfra CLI, real clusters.
"""

import os
import pty
import select
import subprocess
import time
from urllib.parse import quote

import pytest
from psycopg import sql

from tests.support import PYINFRA, ROOT, Project, admin, create_target_db, drop_db

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters


SESSIONS = "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
HISTORY_READS = ("SELECT seq_scan + coalesce(idx_scan, 0) FROM pg_stat_user_tables "
                 "WHERE relid = 'public.schema_migrations'::regclass")


def _read(conn, text: str) -> int:
    """A statistics counter once the backends that moved it have reported (they do so as they end)."""
    time.sleep(1.2)
    return conn.execute(text).fetchone()[0]


def test_a_converged_run_opens_one_session_per_database_and_reads_the_history_once(project, source_db):
    assert project.deploy().code == 0
    assert project.deploy().code == 0  # the source backup of the first run is current from here on
    with admin("target", project.target_db) as target, admin("source", source_db) as source:
        before = _read(target, SESSIONS), _read(source, SESSIONS), _read(target, HISTORY_READS)
        again = project.deploy()
        assert again.code == 0, again.output[-3000:]
        assert again.changed() == []
        after = _read(target, SESSIONS), _read(source, SESSIONS), _read(target, HISTORY_READS)
    assert [a - b for a, b in zip(after, before)] == [1, 1, 1]  # target sessions, source sessions, history reads


def test_a_role_allowed_only_the_connections_the_work_needs_still_converges(sandbox, tmp_path):
    """The run keeps a session open for its facts, but not while a step works: the work has every
    slot. The verified backup needs two (a session holding the snapshot, and pg_dump reading it)."""
    role, password, db = "two_slots", "two slots only", create_target_db()
    try:
        with admin() as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN CONNECTION LIMIT 2 PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)))
            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(db), sql.Identifier(role)))
        with admin("target", db) as conn:
            conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(role)))
        project = Project(tmp_path, db)
        credentials = project.target_url.split("//", 1)[1].split("@", 1)[0]
        project.target_url = project.target_url.replace(credentials, f"{role}:{quote(password, safe='')}", 1)
        first = project.deploy()
        assert first.code == 0, first.output[-3000:]
        assert project.applied_versions() == [1, 2, 3, 4]
        second = project.deploy()
        assert second.code == 0 and second.changed() == [], second.output[-3000:]
    finally:
        drop_db(db)
        with admin() as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_a_role_allowed_one_connection_is_told_the_backup_needs_two_and_nothing_changes(sandbox, tmp_path):
    role, password, db = "one_slot", "one slot only", create_target_db()
    try:
        with admin() as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN CONNECTION LIMIT 1 PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)))
            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(db), sql.Identifier(role)))
        with admin("target", db) as conn:
            conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(role)))
            conn.execute("CREATE TABLE kept (id int)")  # not empty: its backup is a real pg_dump
            conn.execute(sql.SQL("ALTER TABLE kept OWNER TO {}").format(sql.Identifier(role)))
        project = Project(tmp_path, db, seeds=tmp_path / "no-seed")
        for old in project.migrations.glob("*.sql"):
            old.unlink()
        project.write_migration("001_one.sql", "CREATE TABLE one (id int);\n")
        credentials = project.target_url.split("//", 1)[1].split("@", 1)[0]
        project.target_url = project.target_url.replace(credentials, f"{role}:{quote(password, safe='')}", 1)
        result = project.deploy(BASELINE_VERSION="0")
        assert result.code == 1
        assert "a verified backup needs two connections at once" in result.output, result.output[-3000:]
        assert project.applied_versions() == []
    finally:
        drop_db(db)
        with admin() as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_the_confirmation_prompt_holds_no_connection_to_the_target(project):
    """While pyinfra waits for an answer (no -y), the run keeps no session open: the app has the slot."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([PYINFRA, "inventory.py", "deploy.py"], cwd=ROOT, env=project.env(), stdin=follower,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = b""
    try:
        deadline = time.monotonic() + 120
        while b"Press enter to execute" not in output and process.poll() is None and time.monotonic() < deadline:
            if select.select([process.stdout], [], [], 1)[0]:
                output += os.read(process.stdout.fileno(), 65536)
        assert b"Press enter to execute" in output, output[-3000:]
        time.sleep(0.5)
        held = admin("target", project.target_db).execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()[0]
        os.write(leader, b"\n")
        rest, _ = process.communicate(timeout=180)
        output += rest
    finally:
        if process.poll() is None:
            process.kill()
        os.close(leader)
        os.close(follower)
    assert held == 0
    assert process.returncode == 0, output[-3000:]
    assert project.applied_versions() == [1, 2, 3, 4]


def test_a_dry_run_says_what_the_proof_and_the_pending_migrations_bring(project):
    """A new migration: the proof runs first, so the source backup is taken again after it (its shadow
    moves the source cluster's transaction id), and the seed rows are checked again after the file."""
    assert project.deploy().code == 0
    project.write_migration("005_wipe.sql", "DELETE FROM rooms WHERE slug = 'random';\n")
    dry = project.dry()
    assert dry.code == 0, dry.output[-3000:]
    assert "the source backup is taken again after it" in dry.output, dry.output[-3000:]
    assert "will check after the pending migrations run (all rows of" in dry.output, dry.output[-3000:]
    run = project.deploy()
    assert run.code == 0, run.output[-3000:]
    assert {"Source backup captured", "Seed present"} <= set(run.changed())


def test_a_dry_run_writes_nothing_into_state_dir_and_keeps_its_mode(project):
    """The caches kept between runs (pg_dump versions, view texts) are written by real runs only, into
    the tool's own folder: a STATE_DIR that also holds the user's files keeps its mode and contents."""
    state = project.tmp / "mine"
    state.mkdir()
    state.chmod(0o755)
    (state / "notes.txt").write_text("mine\n")
    project.state = state
    dry = project.dry()
    assert dry.code == 0, dry.output[-3000:]
    assert oct(state.stat().st_mode & 0o7777) == "0o755"
    assert sorted(p.name for p in state.iterdir()) == ["notes.txt"]
    assert project.deploy().code == 0
    assert oct(state.stat().st_mode & 0o7777) == "0o755"
    assert (state / "cache").is_dir() and oct((state / "cache").stat().st_mode & 0o777) == "0o700"
