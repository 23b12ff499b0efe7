"""
The bad-input catalogue: each case stops the deploy with a non-zero exit and exactly one line
naming the cause, and the target's catalog and data are the same before and after. Real sandbox
clusters, the real pyinfra CLI. The stand-ins are a PATH without psql or pg_dump, a pg_dump
wrapper that reports an older version, a 64 KiB tmpfs as a full backup folder and a read-only
tmpfs as an unwritable one (root only).

One line per case in CASES: ``name: (before, make, words)``. ``before`` prepares the target
(``"deploy"``, ``"tables"``, ``"lock"``, or a function of the project), ``make`` returns the
environment of the failing run (and may change the project's files), ``words`` must be in the one
``pgconverge:`` line.
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
from tests.support import SEEDS, catalog_and_data, query, sandbox_urls, tmpfs, with_dbname

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

def bin_without(tmp_path, missing):
    folder = tmp_path / f"bin-without-{missing}"
    folder.mkdir()
    for tool in ("sh", "psql", "pg_dump", "pg_restore", "dot", "openssl"):
        found = shutil.which(tool)
        if tool != missing and found:
            (folder / tool).symlink_to(found)
    return {"PATH": str(folder), "PG_BINDIRS": str(folder)}


def older_pg_dump(tmp_path):
    folder = tmp_path / "old-bin"
    folder.mkdir()
    wrapper = folder / "pg_dump"
    wrapper.write_text('#!/bin/sh\n[ "$1" = "--version" ] && { echo "pg_dump (PostgreSQL) 13.2"; exit 0; }\n'
                       f'exec {shutil.which("pg_dump")} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    (folder / "pg_restore").symlink_to(shutil.which("pg_restore"))
    return {"PATH": f"{folder}:{os.environ['PATH']}", "PG_BINDIRS": str(folder)}


def shared_folder(tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o1777)
    return folder


def full_backup_folder(tmp_path):
    return {"BACKUP_DIR": str(tmpfs(tmp_path / "full", "size=64k"))}


def read_only_folder(tmp_path, setting):
    return {setting: str(tmpfs(tmp_path / f"read-only-{setting}", "size=64k,ro"))}


def under_a_file(tmp_path, setting):
    (tmp_path / "a-file").write_text("")
    return {setting: str(tmp_path / "a-file" / "sub")}


def raw_file(project, name, data: bytes):
    (project.migrations / name).write_bytes(data)
    return {}


def deployed_then(*statements):
    """Before: a first deploy, then these statements on the target as its superuser."""

    def before(project):
        assert project.deploy().code == 0
        for statement in statements:
            query(project.target_db, statement)

    return before


def planted_lock(project, tmp_path):
    """A link at the source backup folder's lock, pointing at a file of the user's."""
    (tmp_path / "victim.txt").write_text("the user's own\n")
    (project.tmp / "backups" / "source").mkdir(parents=True, exist_ok=True)
    (project.tmp / "backups" / "source" / ".lock").symlink_to(tmp_path / "victim.txt")


def hard_linked_lock(project, tmp_path):
    """A hard link at the source backup folder's lock to a file of the user's."""
    (tmp_path / "victim.txt").write_text("the user's own\n")
    (project.tmp / "backups" / "source").mkdir(parents=True, exist_ok=True)
    os.link(tmp_path / "victim.txt", project.tmp / "backups" / "source" / ".lock")


def another_deploys_005(project):
    project.write_migration("005_add_topics.sql", "CREATE TABLE topics (id int);\n")
    assert project.deploy().code == 0
    (project.migrations / "005_add_topics.sql").unlink()


def edit_applied(project):
    path = project.migrations / "002_create_rooms.sql"
    path.write_text(path.read_text() + "\n-- edited\nCREATE INDEX rooms_name_idx ON rooms (name);\n")


def renumber(path, name):
    """The migration file at ``path`` renamed ``name`` (another version); no setting changed."""
    path.rename(path.with_name(name))
    return {}


CASES = {
    "malformed URL": (
        None,
        lambda p, t: {"TARGET_DATABASE_URL": "postgres://u:p@127.0.0.1:port/db"},
        "TARGET_DATABASE_URL:",
    ),
    "no target": (None, lambda p, t: {"TARGET_DATABASE_URL": ""}, "no target set"),
    "missing migrations folder": (None, lambda p, t: {"MIGRATIONS_DIR": "/nonexistent"}, "MIGRATIONS_DIR:"),
    "missing seed folder": (None, lambda p, t: {"SEED_DIR": "/nonexistent"}, "SEED_DIR:"),
    "unknown DATA_MIGRATION": (None, lambda p, t: {"DATA_MIGRATION": "all"}, "DATA_MIGRATION:"),
    "bad boolean": (None, lambda p, t: {"ALLOW_EXTRA_OBJECTS": "maybe"}, "ALLOW_EXTRA_OBJECTS:"),
    "BACKUP_KEEP zero": (None, lambda p, t: {"BACKUP_KEEP": "0"}, "BACKUP_KEEP:"),
    "REPORT_KEEP unbounded": (None, lambda p, t: {"REPORT_KEEP": "99999999999999999999"}, "REPORT_KEEP:"),
    "COPY_JOBS zero": (None, lambda p, t: {"COPY_JOBS": "0"}, "COPY_JOBS:"),
    "HEROKU_APP, Heroku unreachable": (
        None,
        lambda p, t: {"HEROKU_APP": "whynot-prod", "HEROKU_API_KEY": "k"},
        "cannot reach the Heroku API",
    ),
    "HEROKU_CLI not executable": (
        None,
        lambda p, t: {"HEROKU_APP": "whynot-prod", "HEROKU_CLI": "/nowhere/heroku"},
        "HEROKU_CLI:",
    ),
    "wrong password": (
        None,
        lambda p, t: {
            "TARGET_DATABASE_URL": p.target_url.replace("@", "x@", 1).replace("whynot_owner:", "whynot_owner:wrong", 1)
        },
        "password authentication failed",
    ),
    "unreachable host": (
        None,
        lambda p, t: {"TARGET_DATABASE_URL": "postgres://u:p@127.0.0.1:1/db"},
        "is not reachable",
    ),
    "target without SSL": (
        None,
        lambda p, t: {"TARGET_DATABASE_URL": with_dbname(sandbox_urls()["source"], "postgres") + "?sslmode=require"},
        "SSL",
    ),
    "migration syntax error": (
        None,
        lambda p, t: p.write_migration("005_typo.sql", "CREATE TABEL x (id int);\n") and {},
        "migration 005_typo.sql line 1",
    ),
    "duplicate version": (None, lambda p, t: p.write_migration("4_again.sql", "SELECT 1;\n") and {}, "same version 4"),
    "edited applied migration": ("deploy", lambda p, t: edit_applied(p) or {}, "was edited after it was applied"),
    "unknown applied version": (
        "deploy",
        lambda p, t: (p.migrations / "004_create_messages.sql").unlink() or {},
        "is applied in the target but has no file",
    ),
    "out-of-order migration": (
        "deploy",
        lambda p, t: renumber(p.migrations / "004_create_messages.sql", "010_create_messages.sql"),
        "has no file",
    ),
    "example migrations on a database with tables": ("tables", lambda p, t: {}, "holds the example app's migrations"),
    "seed value of the wrong type": (
        None,
        lambda p, t: (p.seeds / "users.csv").write_text("id,email,display_name\nx,a@x,A\n") and {},
        "seed file users.csv line 2, column id",
    ),
    "seed row with a missing field": (
        None,
        lambda p, t: (p.seeds / "users.csv").write_text("id,email,display_name\n1,a@x\n") and {},
        "seed file users.csv line 2: 2 fields",
    ),
    "STATE_DIR a shared folder": (
        None,
        lambda p, t: {"STATE_DIR": str(shared_folder(t))},
        "is a shared folder (world-writable or sticky): the tool's state",
    ),
    "psql missing in copy mode": (
        None,
        lambda p, t: {**bin_without(t, "psql"), "DATA_MIGRATION": "copy"},
        "through psql, which is not installed",
    ),
    "pg_dump missing": (None, lambda p, t: bin_without(t, "pg_dump"), "PostgreSQL 15 (installed: none)"),
    "pg_dump older than the server": (None, lambda p, t: older_pg_dump(t), "PostgreSQL 15 (installed: 13)"),
    "full backup folder": (None, lambda p, t: full_backup_folder(t), "No space left on device"),
    "lock held by another deploy": (
        "lock",
        lambda p, t: {"MIGRATION_LOCK_WAIT": "1"},
        "another deploy holds the migration lock",
    ),
    # issue 19: settings and folders checked before anything changes
    "lock timeout beyond PostgreSQL's limit": (
        None,
        lambda p, t: (
            p.write_migration("005_more.sql", "CREATE TABLE more (id int);\n")
            and {"MIGRATION_LOCK_TIMEOUT": "99999999999"}
        ),
        "MIGRATION_LOCK_TIMEOUT: '99999999999' is beyond",
    ),
    "statement timeout in an unknown unit": (
        None,
        lambda p, t: {"MIGRATION_STATEMENT_TIMEOUT": "5 weeks"},
        "MIGRATION_STATEMENT_TIMEOUT:",
    ),
    "statement timeout below 1 ms": (
        None,
        lambda p, t: {"MIGRATION_STATEMENT_TIMEOUT": "0.0001ms"},
        "would mean no limit at all",
    ),
    "BACKUP_KEEP beyond any disk": (
        None,
        lambda p, t: {"BACKUP_KEEP": "99999999999999999999999"},
        "is not a number of backups from 1 to 10000",
    ),
    "BASELINE_VERSION beyond bigint": (None, lambda p, t: {"BASELINE_VERSION": "9" * 20}, "BASELINE_VERSION:"),
    "REPORT_DIR read-only": (None, lambda p, t: read_only_folder(t, "REPORT_DIR"), "REPORT_DIR:"),
    "STATE_DIR read-only": (None, lambda p, t: read_only_folder(t, "STATE_DIR"), "STATE_DIR:"),
    "BACKUP_DIR read-only": (None, lambda p, t: read_only_folder(t, "BACKUP_DIR"), "BACKUP_DIR:"),
    "REPORT_DIR under a file": (None, lambda p, t: under_a_file(t, "REPORT_DIR"), "is a file, not a folder"),
    "STATE_DIR under a file": (None, lambda p, t: under_a_file(t, "STATE_DIR"), "STATE_DIR:"),
    "password with a line break": (
        None,
        lambda p, t: {"TARGET_DATABASE_URL": p.target_url.replace("@", "%0A@", 1)},
        "TARGET_DATABASE_URL: the password contains a line break",
    ),
    # issue 19: privileges and history checked before anything changes
    "no CREATE on public (PostgreSQL 15)": (
        lambda p: query(p.target_db, "ALTER SCHEMA public OWNER TO postgres"),
        lambda p, t: {},
        "lacks CREATE on schema public",
    ),
    "another tool's schema_migrations": (
        lambda p: query(
            p.target_db,
            "CREATE TABLE schema_migrations (version varchar PRIMARY KEY); "
            "INSERT INTO schema_migrations VALUES ('20240101'); ALTER TABLE schema_migrations OWNER TO whynot_owner",
        ),
        lambda p, t: {},
        "has no column name, checksum",
    ),
    "history row without a checksum": (
        deployed_then("UPDATE schema_migrations SET checksum = 'x' WHERE version = 3"),
        lambda p, t: {},
        "row for version 3 has no sha256 checksum",
    ),
    # issue 19: messages that tell the truth
    "folder named *.sql": (
        None,
        lambda p, t: (p.migrations / "005_folder.sql").mkdir() or {},
        "005_folder.sql is a folder, not a file",
    ),
    "dangling symlink named *.sql": (
        None,
        lambda p, t: (p.migrations / "005_link.sql").symlink_to(t / "gone.sql") or {},
        "which does not exist: fix the link",
    ),
    "NUL byte in a migration": (
        None,
        lambda p, t: raw_file(p, "005_nul.sql", b"CREATE TABLE n (id int);\n'a\0b';\n"),
        "005_nul.sql line 2 contains a NUL byte",
    ),
    "newest history row deleted": (
        deployed_then("DELETE FROM schema_migrations WHERE version = 4"),
        lambda p, t: {},
        "the target already has what this file creates",
    ),
    "middle history row deleted": (
        deployed_then("DELETE FROM schema_migrations WHERE version = 2"),
        lambda p, t: {},
        "if its row was deleted, restore the row",
    ),
    "another deploy's file for the same version": (
        another_deploys_005,
        lambda p, t: p.write_migration("005_add_tags.sql", "CREATE TABLE tags (id int);\n") and {},
        "another deploy applied a different file as version 5",
    ),
    # issue 16: migration and seed files written by others
    "seed CSV that would end the data and run a command": (
        None,
        lambda p, t: (
            (p.seeds / "users.csv").write_text("id,email,display_name\n90,a@x,A\n\\.\n\\! touch pwned\n") and {}
        ),
        "unquoted \\. line",
    ),
    "seed CSV with an unterminated quote": (
        None,
        lambda p, t: (p.seeds / "users.csv").write_text('id,email,display_name\n9,"a@b.c,x\n') and {},
        "is never closed",
    ),
    "COMMIT hidden behind a non-BMP dollar tag": (
        None,
        lambda p, t: (
            p.write_migration(
                "005_emoji.sql",
                "CREATE TABLE e (id int);\nDO $\U0001f600$ BEGIN PERFORM 1; END $\U0001f600$;\nCOMMIT;\n",
            )
            and {}
        ),
        "line 3: COMMIT is not allowed",
    ),
    "pg_dump's \\restrict line": (
        None,
        lambda p, t: (
            p.write_migration(
                "005_dump.sql", "--\n-- PostgreSQL database dump\n--\n\n\\restrict abc123\n\nCREATE TABLE d (id int);\n"
            )
            and {}
        ),
        "line 5: psql meta-command \\restrict",
    ),
    "standard_conforming_strings turned off": (
        None,
        lambda p, t: (
            p.write_migration("005_scs.sql", "SET standard_conforming_strings = off;\nCREATE TABLE s (id int);\n")
            and {}
        ),
        "changing standard_conforming_strings",
    ),
    "a migration that lets go of the deploy lock": (
        None,
        lambda p, t: p.write_migration("005_unlock.sql", "SELECT pg_advisory_unlock_all();\n") and {},
        "would let go of the deploy's lock",
    ),
    "OWNER TO a superuser (refused by the proof)": (
        None,
        lambda p, t: p.write_migration("005_owner.sql", "ALTER TABLE users OWNER TO postgres;\n") and {},
        'role "postgres"',
    ),
    "COPY FROM PROGRAM (refused by the proof)": (
        None,
        lambda p, t: (
            p.write_migration(
                "005_program.sql", f"CREATE TABLE loot (line text);\nCOPY loot FROM PROGRAM 'touch {t}/ran';\n"
            )
            and {}
        ),
        "external program",
    ),
    "version larger than a bigint": (
        None,
        lambda p, t: p.write_migration("99999999999999999999_big.sql", "SELECT 1;\n") and {},
        "larger than",
    ),
    "version in full-width digits": (
        None,
        lambda p, t: raw_file(p, "\uff10\uff10\uff15_full.sql", b"SELECT 1;\n"),
        "does not match NNN_name.sql",
    ),
    "BASELINE_VERSION on an empty target": (None, lambda p, t: {"BASELINE_VERSION": "4"}, "there is nothing to adopt"),
    "the source under another host name": (
        None,
        lambda p, t: {"TARGET_DATABASE_URL": sandbox_urls()["source"].replace("127.0.0.1", "localhost", 1)},
        "reaches the same database as SOURCE_DATABASE_URL",
    ),
    # issue 20: the example app meets a database that is not empty
    "example migrations on a database with only a view": (
        lambda p: query(
            p.target_db, "CREATE VIEW legacy_v AS SELECT 1 AS x; ALTER VIEW legacy_v OWNER TO whynot_owner"
        ),
        lambda p, t: {},
        "is not empty",
    ),
    # issue 29 class 7: statements aimed at the tool itself; issue 31 items 3 and 4: settings
    "a migration that deletes from schema_migrations": (
        None,
        lambda p, t: (
            p.write_migration(
                "005_history.sql",
                'CREATE TABLE h (id int);\nDELETE FROM "public".schema_migrations WHERE version = 1;\n',
            )
            and {}
        ),
        "005_history.sql line 2: DELETE FROM public.schema_migrations is not allowed",
    ),
    "a migration that drops Schema_Migrations (unquoted: the same table)": (
        None,
        lambda p, t: p.write_migration("005_drop.sql", "DROP TABLE IF EXISTS Schema_Migrations;\n") and {},
        "005_drop.sql line 1: DROP TABLE public.schema_migrations",
    ),
    "COPY FROM STDIN in a migration": (
        None,
        lambda p, t: p.write_migration("005_load.sql", "CREATE TABLE l (id int);\nCOPY l FROM STDIN;\n1\n\\.\n") and {},
        "005_load.sql line 2: COPY ... FROM STDIN is not allowed",
    ),
    "REINDEX DATABASE in a transaction file": (
        None,
        lambda p, t: p.write_migration("005_reindex.sql", "REINDEX DATABASE whynot;\n") and {},
        "005_reindex.sql line 1: REINDEX DATABASE cannot run inside a transaction",
    ),
    "a misspelt setting": (
        None,
        lambda p, t: {"DATA_MIGRATON": "copy"},
        "DATA_MIGRATON: not a setting, but one letter off DATA_MIGRATION",
    ),
    "a misspelt setting in ENV_FILE": (
        None,
        lambda p, t: p.env_file.write_text("BACKUP_KEPE=3\n") and {},
        "BACKUP_KEPE: not a setting, but one letter off BACKUP_KEEP",
    ),
    "a password with # not percent-encoded": (
        None,
        lambda p, t: {"TARGET_DATABASE_URL": p.target_url.replace("whynot_owner:", "whynot_owner:x#", 1)},
        "the password holds #, which a URL reserves: percent-encode it in the URL (# as %23",
    ),
    "a password with @ not percent-encoded": (
        None,
        lambda p, t: {"TARGET_DATABASE_URL": p.target_url.replace("whynot_owner:", "whynot_owner:x@", 1)},
        "@ as %40",
    ),
    "a link planted at BACKUP_DIR/source/.lock": (
        None,
        lambda p, t: planted_lock(p, t) or {},
        ".lock is a symbolic link, which pgconverge did not make",
    ),
    "a migration file name with an ESC sequence": (
        None,
        lambda p, t: raw_file(p, "005_\x1b[2J\x1b[31mok.sql", b"SELECT 1;\n"),
        "migration file 005_\\x1b[2J\\x1b[31mok.sql does not match",
    ),
    # the outside tester's findings (issue 29 classes 4, 5, 7, 8; issue 31 item 3)
    "a ?host= list with a network host": (
        None,
        lambda p, t: {
            "TARGET_DATABASE_URL": p.target_url + ("&" if "?" in p.target_url else "?") + "host=/nonexistent,0.0.0.0"
        },
        "?host= in the URL holds a list",
    ),
    "?host= given twice": (
        None,
        lambda p, t: {"TARGET_DATABASE_URL": p.target_url + ("&" if "?" in p.target_url else "?") + "host=/a&host=/b"},
        "?host= is given twice",
    ),
    "a DO block that deletes from the history": (
        None,
        lambda p, t: (
            p.write_migration(
                "005_do.sql", "DO $$BEGIN EXECUTE 'DELETE FROM schema_' || 'migrations WHERE version = 1'; END$$;\n"
            )
            and {}
        ),
        "migration 005_do.sql: the file changed the tool's history table",
    ),
    "a migration that ends its own session": (
        None,
        lambda p, t: (
            p.write_migration("005_bye.sql", "SELECT pg_terminate_backend((SELECT pg_backend_pid()));\n") and {}
        ),
        "migration 005_bye.sql: the file ends the tool's own session",
    ),
    "a FIFO named like a migration": (
        None,
        lambda p, t: os.mkfifo(p.migrations / "009_fifo.sql") or {},
        "009_fifo.sql is a FIFO (named pipe), not a regular file",
    ),
    "a hard link at BACKUP_DIR/source/.lock": (
        None,
        lambda p, t: hard_linked_lock(p, t) or {},
        ".lock has 1 other hard link(s)",
    ),
    "a setting spelt in lower case": (
        None,
        lambda p, t: {"data_migration": "copy"},
        "data_migration: not a setting, it differs from DATA_MIGRATION only in case",
    ),
    "a key twice in ENV_FILE": (
        None,
        lambda p, t: p.env_file.write_text("BACKUP_KEEP=3\nBACKUP_KEEP=4\n") and {},
        "ENV_FILE: BACKUP_KEEP is given twice",
    ),
    "?host= that is not a socket folder": (
        None,
        lambda p, t: {
            "TARGET_DATABASE_URL": p.target_url + ("&" if "?" in p.target_url else "?") + "host=db.example.com"
        },
        "?host= in the URL must be a Unix socket folder",
    ),
}
# Bad settings: exit status 2 (nothing touched) and the line starts with the setting's name.
SETTINGS_CASES = {
    "malformed URL": "TARGET_DATABASE_URL",
    "no target": "TARGET_DATABASE_URL",
    "missing migrations folder": "MIGRATIONS_DIR",
    "unknown DATA_MIGRATION": "DATA_MIGRATION",
}
UNMOUNT = ("full backup folder", "REPORT_DIR read-only", "STATE_DIR read-only", "BACKUP_DIR read-only")


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
    if callable(before_step):
        before_step(project)
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
        if case in UNMOUNT:
            subprocess.run(["umount", next(iter(env.values()))], check=False)
    assert result.code != 0
    lines = [line for line in result.output.splitlines() if "pgconverge:" in line]
    assert len(lines) == 1, result.output[-2500:]
    assert words in lines[0], result.output[-2500:]
    if case in SETTINGS_CASES:
        assert result.code == 2 and lines[0].startswith(f"pgconverge: {SETTINGS_CASES[case]}:"), lines[0]
    assert "Traceback" not in result.output
    assert catalog_and_data(project.target_db) == before
    # one part per case: the cases run on several workers, and the count is their sum (a count of this
    # process's cases alone was overwritten by the last worker's: 30 of 80 once they were spread out)
    add("bad inputs refused with nothing changed", 1, part=case)
