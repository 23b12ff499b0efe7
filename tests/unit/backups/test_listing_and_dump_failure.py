"""
The pure parts of tasks/backups/listing.py (which backups restore.py may restore, how they are shown
and found) and the true cause in tasks/backups/dump.py's pg_dump failure line.
"""

from __future__ import annotations

from pathlib import Path

from tasks.backups import listing
from tasks.backups.dump import dump_failure

MANIFEST = {"database": "app", "identity": "db.example.com:5432/app", "created_at": "2026-12-06T10:00:00Z",
            "size_bytes": 2_500_000, "tables": 4, "rows": {"public.users": 10, "public.rooms": 2}}


def test_a_backup_of_another_server_or_database_is_not_this_targets():
    assert listing.not_this_database(MANIFEST, "app", "db.example.com:5432/app") is None
    assert "it is a backup of localhost:5432/app" in listing.not_this_database(
        {**MANIFEST, "identity": "localhost:5432/app"}, "app", "db.example.com:5432/app")
    older = {k: v for k, v in MANIFEST.items() if k != "identity"}
    assert listing.not_this_database(older, "app", "x:1/app") is None
    assert "database other" in listing.not_this_database({**older, "database": "other"}, "app", "x:1/app")


def test_a_backup_is_shown_with_its_time_size_and_what_it_holds():
    line = listing.describe(Path("app-1.dump"), MANIFEST)
    assert line == "app-1.dump  2026-12-06T10:00:00Z  2.5 MB  local dump: 4 table(s), 12 row(s)"
    assert "Heroku backup" in listing.describe(Path("heroku-app-b005.json"), MANIFEST)


def test_a_bare_file_name_is_looked_up_in_the_targets_folder(tmp_path):
    (tmp_path / "app-1.json").write_text("{}")
    (tmp_path / "app-1.dump").write_text("")
    assert listing.find("app-1.dump", tmp_path) == tmp_path / "app-1.dump"
    assert listing.find("nope.dump", tmp_path) is None
    assert listing.find(str(tmp_path / "app-1.dump"), Path("/nonexistent")) == tmp_path / "app-1.dump"


def test_a_restart_during_pg_dump_is_named_as_a_lost_connection_not_a_fault_to_fix():
    error = ('pg_dump: error: Dumping the contents of table "messages" failed: PQgetCopyData() failed.\n'
             "pg_dump: detail: Error message from server: server closed the connection unexpectedly\n")
    line = dump_failure("postgres://u:***@h/app", error.splitlines()[0], error)
    assert "the connection to the server was lost during the dump" in line and "fix that" not in line


def test_a_full_backup_disk_names_the_folder():
    error = "pg_dump: error: could not write to output file: No space left on device\n"
    line = dump_failure("db", error.strip(), error, Path("/backups/target"))
    assert "the disk of the backup folder /backups/target is full" in line


def test_a_table_held_exclusively_during_pg_dump_is_named_as_such():
    error = 'pg_dump: error: query failed: ERROR:  could not obtain lock on relation "users"\n'
    line = dump_failure("db", error.strip(), error)
    assert "another session held a table exclusively for more than 30s" in line and "fix that" not in line
