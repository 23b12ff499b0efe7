"""
A restore loses nothing the application commits while it runs (issue 29 class 3, issue 31 item 2):
the undo backup is taken from the restore's own transaction, once it holds the tables it replaces
against writes, so every row the application was told committed is either in the restored target
(written after the restore committed) or in the undo backup (written before it took over). A second
session plays the application, committing a row every 0.05 s; the oracle is ``pg_restore`` of the
undo backup (PostgreSQL's own reader of the dump), not the tool's manifest.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time

import psycopg
import pytest

from tests.support import ROOT, query

PG_RESTORE = str(ROOT / ".tools" / "pg17" / "bin" / "pg_restore")

pytestmark = pytest.mark.cluster


def writer(url: str, stop: threading.Event, committed: list[int]) -> None:
    """The application: INSERT one row at a time, autocommit; an id is recorded once COMMIT returned."""
    next_id = 1
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET application_name = 'the-app'")
        while not stop.is_set():
            try:
                conn.execute("INSERT INTO app_log (id) VALUES (%s)", (next_id,))
                committed.append(next_id)
            except psycopg.Error:
                pass  # the table was gone for a moment: not committed, not recorded
            next_id += 1
            time.sleep(0.05)


def dumped_ids(dump) -> set[int]:
    """The ids of app_log in a dump, read by pg_restore itself."""
    script = subprocess.run([PG_RESTORE, "-a", "-t", "app_log", "-f", "-", str(dump)], capture_output=True,
                            text=True, check=True).stdout
    lines = script.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("COPY ") and "app_log" in line)
    ids = set()
    for line in lines[start + 1:]:
        if line == "\\.":
            break
        ids.add(int(line.split("\t")[0]))
    return ids


def test_every_row_the_application_committed_during_a_restore_is_in_the_target_or_the_undo_backup(project,
                                                                                                   source_db):
    project.write_migration("005_app_log.sql", "CREATE TABLE app_log (id int PRIMARY KEY);\n")
    assert project.deploy().code == 0
    project.write_migration("006_more.sql", "CREATE TABLE more (id int PRIMARY KEY);\n")
    assert project.deploy().code == 0
    folder = project.tmp / "backups" / "target"
    dumps = sorted(folder.glob("*.dump"))
    chosen = dumps[-1]  # holds app_log, empty
    stop, committed = threading.Event(), []
    thread = threading.Thread(target=writer, args=(project.target_url, stop, committed))
    thread.start()
    try:
        time.sleep(1.0)
        done = project.restore(f"backup={chosen.name}", f"confirm={project.target_db}")
        time.sleep(1.0)
    finally:
        stop.set()
        thread.join()
    assert done.code == 0, done.output[-3000:]
    (undo,) = sorted(set(folder.glob("*.dump")) - set(dumps))
    assert f"the target as it was is backup {undo.name}" in done.output
    in_target = {row[0] for row in query(project.target_db, "SELECT id FROM app_log")}
    in_undo = dumped_ids(undo)
    assert in_undo and in_target, (len(in_undo), len(in_target))
    lost = sorted(set(committed) - in_target - in_undo)
    assert not lost, f"{len(lost)} committed row(s) in neither the target nor the undo backup: {lost[:10]}"


def test_a_restore_that_rolls_back_keeps_no_undo_backup(project, source_db):
    """Issue 29 class 3 / the tester's item 9: each failed attempt used to leave a full pre-restore dump,
    pushing older backups out past BACKUP_KEEP. A restore that replaced nothing keeps none."""
    assert project.deploy().code == 0
    project.write_migration("005_more.sql", "CREATE TABLE more (id int PRIMARY KEY);\n")
    assert project.deploy().code == 0
    folder = project.tmp / "backups" / "target"
    dumps = sorted(folder.glob("*.dump"))
    manifest_file = dumps[-1].with_suffix(".json")
    manifest = json.loads(manifest_file.read_text())
    table = min(manifest["rows"])
    manifest["rows"][table] += 1  # the restored rows will differ from it: the restore rolls back
    manifest_file.write_text(json.dumps(manifest))
    for _ in range(2):
        failed = project.restore(f"backup={dumps[-1].name}", f"confirm={project.target_db}")
        assert failed.code != 0
        assert "was rolled back, the target is as it was" in failed.output, failed.output[-2500:]
    assert sorted(folder.glob("*.dump")) == dumps
