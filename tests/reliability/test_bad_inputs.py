"""
The bad-input catalogue: each case stops the deploy with a non-zero exit and exactly one line
naming the cause, and the target's catalog and data are the same before and after. Real sandbox
clusters, the real pyinfra CLI. The stand-ins are a PATH without psql or pg_dump, a pg_dump
wrapper that reports an older version, and a 64 KiB tmpfs as a full backup folder (root only).
"""

import os
import shutil
import stat
import subprocess

import psycopg
import pytest

import sandbox
from tasks.core.lock import LOCK_KEY
from tests.reliability.counts import add
from tests.support import SEEDS, catalog_and_data, query, sandbox_urls, with_dbname

TRIED = []


def bin_without(tmp_path, missing):
    folder = tmp_path / f"bin-without-{missing}"
    folder.mkdir()
    for tool in ("sh", "psql", "pg_dump", "pg_restore", "dot", "openssl"):
        found = shutil.which(tool)
        if tool != missing and found:
            (folder / tool).symlink_to(found)
    return {"PATH": str(folder)}


def older_pg_dump(tmp_path):
    folder = tmp_path / "old-bin"
    folder.mkdir()
    wrapper = folder / "pg_dump"
    wrapper.write_text('#!/bin/sh\n[ "$1" = "--version" ] && { echo "pg_dump (PostgreSQL) 13.2"; exit 0; }\n'
                       f'exec {shutil.which("pg_dump")} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    return {"PATH": f"{folder}:{os.environ['PATH']}"}


def full_backup_folder(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    folder = tmp_path / "full"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], check=True)
    return {"BACKUP_DIR": str(folder)}


def edit_applied(project):
    path = project.migrations / "002_create_rooms.sql"
    path.write_text(path.read_text() + "\n-- edited\nCREATE INDEX rooms_name_idx ON rooms (name);\n")


CASES = {
    "malformed URL": (None, lambda p, t: {"TARGET_DATABASE_URL": "postgres://u:p@127.0.0.1:port/db"}, "TARGET_DATABASE_URL:"),
    "no target": (None, lambda p, t: {"TARGET_DATABASE_URL": ""}, "no target set"),
    "missing migrations folder": (None, lambda p, t: {"MIGRATIONS_DIR": "/nonexistent"}, "MIGRATIONS_DIR:"),
    "unknown DATA_MIGRATION": (None, lambda p, t: {"DATA_MIGRATION": "all"}, "DATA_MIGRATION:"),
    "bad boolean": (None, lambda p, t: {"ALLOW_EXTRA_OBJECTS": "maybe"}, "ALLOW_EXTRA_OBJECTS:"),
    "BACKUP_KEEP zero": (None, lambda p, t: {"BACKUP_KEEP": "0"}, "BACKUP_KEEP:"),
    "COPY_JOBS zero": (None, lambda p, t: {"COPY_JOBS": "0"}, "COPY_JOBS:"),
    "HEROKU_APP, Heroku unreachable": (None, lambda p, t: {"HEROKU_APP": "whynot-prod", "HEROKU_API_KEY": "k"},
                                       "cannot reach the Heroku API"),
    "HEROKU_CLI not executable": (None, lambda p, t: {"HEROKU_APP": "whynot-prod", "HEROKU_CLI": "/nowhere/heroku"},
                                  "HEROKU_CLI:"),
    "wrong password": (None, lambda p, t: {"TARGET_DATABASE_URL": p.target_url.replace("@", "x@", 1).replace(
        "whynot_owner:", "whynot_owner:wrong", 1)}, "password authentication failed"),
    "unreachable host": (None, lambda p, t: {"TARGET_DATABASE_URL": "postgres://u:p@127.0.0.1:1/db"}, "is not reachable"),
    "target without SSL": (None, lambda p, t: {"TARGET_DATABASE_URL": with_dbname(sandbox_urls()["source"], "postgres")
                                               + "?sslmode=require"}, "SSL"),
    "migration syntax error": (None, lambda p, t: p.write_migration("005_typo.sql", "CREATE TABEL x (id int);\n") and {},
                               "migration 005_typo.sql line 1"),
    "duplicate version": (None, lambda p, t: p.write_migration("4_again.sql", "SELECT 1;\n") and {}, "same version 4"),
    "edited applied migration": ("deploy", lambda p, t: edit_applied(p) or {}, "was edited after it was applied"),
    "unknown applied version": ("deploy", lambda p, t: (p.migrations / "004_create_messages.sql").unlink() or {},
                                "is applied in the target but has no file"),
    "out-of-order migration": ("deploy", lambda p, t: [(p.migrations / "004_create_messages.sql").rename(
        p.migrations / "010_create_messages.sql")] and {}, "has no file"),
    "tables without history": ("tables", lambda p, t: {}, "BASELINE_VERSION"),
    "seed value of the wrong type": (None, lambda p, t: (p.seeds / "users.csv").write_text(
        "id,email,display_name\nx,a@x,A\n") and {}, "seed file users.csv line 2, column id"),
    "seed row with a missing field": (None, lambda p, t: (p.seeds / "users.csv").write_text(
        "id,email,display_name\n1,a@x\n") and {}, "seed file users.csv line 2: 2 fields"),
    "psql missing": (None, lambda p, t: bin_without(t, "psql"), "psql is not installed"),
    "pg_dump missing": (None, lambda p, t: bin_without(t, "pg_dump"), "pg_dump is not installed"),
    "pg_dump older than the server": (None, lambda p, t: older_pg_dump(t), "local pg_dump 13 is older than"),
    "full backup folder": (None, lambda p, t: full_backup_folder(t), "No space left on device"),
    "lock held by another deploy": ("lock", lambda p, t: {"MIGRATION_LOCK_WAIT": "1"},
                                    "another deploy holds the migration lock"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_stops_with_one_line_and_changes_nothing(project, tmp_path, case):
    before_step, make, words = CASES[case]
    project.seeds = tmp_path / "seed"
    shutil.copytree(SEEDS, project.seeds)
    if before_step == "deploy":
        assert project.deploy().code == 0
    if before_step == "tables":
        query(project.target_db, "CREATE TABLE legacy (id int)")
    if before_step == "lock":
        project.write_migration("005_more.sql", "CREATE TABLE more (id int);\n")
    before = catalog_and_data(project.target_db)
    env = make(project, tmp_path) or {}
    holder = None
    try:
        if before_step == "lock":
            holder = psycopg.connect(sandbox.admin_conninfo("target", project.target_db), autocommit=True)
            holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        result = project.deploy(**env)
    finally:
        if holder:
            holder.close()
        if case == "full backup folder":
            subprocess.run(["umount", env["BACKUP_DIR"]], check=False)
    assert result.code != 0
    lines = [line for line in result.output.splitlines() if "pgconverge:" in line]
    assert len(lines) == 1, result.output[-2500:]
    assert words in lines[0], result.output[-2500:]
    assert "Traceback" not in result.output
    assert catalog_and_data(project.target_db) == before
    TRIED.append(case)
    add("bad inputs refused with nothing changed", len(TRIED))
