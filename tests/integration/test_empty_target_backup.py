"""
The backup of a target that holds nothing is a manifest that says so (issue 21), through the real
pyinfra CLI against the sandbox's PostgreSQL clusters: a first deploy on an empty target runs no
pg_dump for it and still records a verified backup; restore.py from that record empties the target
again (a second restore changes nothing); a target holding anything (a view, a function, a schema)
still gets a real pg_dump; BACKUP_KEEP counts the record like any backup.
"""

import json
import os
import pty
import select
import subprocess
import time

import pytest

from tasks.backups import empty, store
from tests.support import PYINFRA, ROOT, Project, catalog_and_data, create_target_db, drop_db, query, report_rows

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

MIGRATION_005 = "CREATE TABLE audit (id int PRIMARY KEY, what text);\n"


def target_folder(project):
    return project.tmp / "backups" / "target"


def records(project):
    """The target's backups that are a manifest alone (no dump)."""
    return [b for b in store.scan(target_folder(project)).verified if store.is_empty_backup(b.manifest)]


def test_a_first_deploy_on_an_empty_target_runs_no_pg_dump_and_records_a_verified_backup(project, source_db):
    dry = project.dry()
    assert dry.code == 0, dry.output[-2000:]
    assert "the target holds nothing yet: record that" in dry.output and "(no pg_dump needed)" in dry.output

    first = project.deploy()
    assert first.code == 0, first.output[-3000:]
    assert not list(target_folder(project).glob("*.dump"))  # no pg_dump archive for the target
    (record,) = records(project)
    assert record.path.suffix == ".json" and record.path.stat().st_mode & 0o777 == 0o600
    manifest = record.manifest
    assert manifest["empty"] is True and manifest["tables"] == 0 and manifest["rows"] == {}
    assert manifest["database"] == project.target_db and manifest["identity"].startswith("cluster ") \
        and f", database {project.target_db} (oid " in manifest["identity"]  # the server's identity, not the URL's
    assert manifest["catalog"]["tables"] == {} and manifest["fingerprint"]
    assert "pg_dump_version" not in manifest and "sha256" not in manifest  # nothing was dumped
    assert "recorded the empty target as" in first.output and "(no pg_dump)" in first.output
    assert project.applied_versions() == [1, 2, 3, 4]  # the change went ahead after the record

    again = project.deploy()
    assert again.operations()["Target backup captured"] == "no_change"
    assert records(project) == [record]  # idempotent: nothing recorded the second time


@pytest.mark.long
def test_restoring_the_record_after_the_deploy_empties_the_target_and_a_second_restore_changes_nothing(project,
                                                                                                       source_db):
    empty = catalog_and_data(project.target_db)
    assert project.deploy().code == 0
    (record,) = records(project)
    assert catalog_and_data(project.target_db) != empty

    def dry_restore():
        done = subprocess.run([PYINFRA, "--dry", "--data", f"backup={record.path}", "--data",
                               f"confirm={project.target_db}", "inventory.py", "restore.py"],
                              cwd=ROOT, env=project.env(), capture_output=True, text=True, timeout=180, check=False)
        return done.stdout + done.stderr

    planned = dry_restore()
    assert "the backup records an empty target" in planned
    assert "drop (created after the backup): table users" in planned, planned[-3000:]
    assert catalog_and_data(project.target_db) != empty  # the dry run changed nothing

    restored = project.restore(f"backup={record.path}", f"confirm={project.target_db}")
    assert restored.code == 0, restored.output[-3000:]
    assert "the target holds nothing again" in restored.output
    assert catalog_and_data(project.target_db) == empty  # tables, schema_migrations, functions: all gone
    assert project.applied_versions() == []

    assert "nothing to drop" in dry_restore()
    again = project.restore(f"backup={record.path.with_suffix('.dump')}", f"confirm={project.target_db}")
    assert again.code == 0, again.output[-3000:]
    assert catalog_and_data(project.target_db) == empty

    redeploy = project.deploy()
    assert redeploy.code == 0, redeploy.output[-3000:]
    assert project.applied_versions() == [1, 2, 3, 4]


def own_project(tmp_path, target_db):
    """Migrations of its own (the example app's refuse a target that is not empty); an extra object is
    allowed by the schema check, which is not what these tests are about."""
    folder = tmp_path / "own-migrations"
    folder.mkdir()
    (folder / "001_t.sql").write_text("CREATE TABLE t (id int PRIMARY KEY);\n")
    project = Project(tmp_path, target_db, migrations=folder, seeds=tmp_path / "no-seed")
    project.extra["ALLOW_EXTRA_OBJECTS"] = "true"
    return project


@pytest.mark.parametrize("holding", [
    "CREATE VIEW answer AS SELECT 42 AS n",
    "CREATE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 42'",
    "CREATE SCHEMA reports",
], ids=["only a view", "only a function", "only an extra schema"])
def test_a_target_holding_anything_still_gets_a_real_pg_dump(tmp_path, target_db, holding):
    project = own_project(tmp_path, target_db)
    query(target_db, holding)
    result = project.deploy()
    assert result.code == 0, result.output[-3000:]
    assert "the target holds nothing yet" not in result.output
    (dump,) = target_folder(project).glob("*.dump")
    manifest = json.loads(dump.with_suffix(".json").read_text())
    assert "empty" not in manifest and len(manifest["sha256"]) == 64
    assert not records(project)


def test_backup_keep_counts_the_record_like_any_backup(project, source_db):
    assert project.deploy().code == 0
    (record,) = records(project)
    project.write_migration("005_audit.sql", MIGRATION_005)
    kept = project.deploy(BACKUP_KEEP="2")
    assert kept.code == 0, kept.output[-3000:]
    assert record.path.exists() and len(list(target_folder(project).glob("*.dump"))) == 1

    project.write_migration("006_more.sql", "ALTER TABLE audit ADD COLUMN at timestamptz;\n")
    pruned = project.deploy(BACKUP_KEEP="2")
    assert pruned.code == 0, pruned.output[-3000:]
    assert not record.path.exists()  # the oldest of three: pruned, and named
    assert f"pruned {record.path.name} (keeping 2)" in pruned.output
    assert len(store.scan(target_folder(project)).verified) == 2


def test_a_target_that_gains_an_object_while_the_prompt_waits_gets_a_real_pg_dump(tmp_path, target_db):
    """The plan found the target empty; a view created while the confirmation screen waits is seen
    when the backup is taken (pyinfra runs the operation again at execution, and the record is proved
    again in its own snapshot): a real pg_dump, not the record."""
    project = own_project(tmp_path, target_db)
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen([PYINFRA, "inventory.py", "deploy.py"], cwd=ROOT, stdin=follower,
                                   env=project.env(PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
        seen, deadline = b"", time.monotonic() + 120
        while b"Press enter to execute" not in seen and time.monotonic() < deadline and process.poll() is None:
            if select.select([process.stdout], [], [], 1)[0]:
                seen += os.read(process.stdout.fileno(), 65536)
        assert b"the target holds nothing yet: record that" in seen, seen.decode()[-3000:]
        query(project.target_db, "CREATE VIEW answer AS SELECT 42 AS n")
        os.write(leader, b"\n")
        output = (seen + process.communicate(timeout=180)[0]).decode()
    finally:
        os.close(leader)
        os.close(follower)
    assert report_rows(project.tmp / "reports")["Target backup captured"][0] == "changed", output[-3000:]
    (dump,) = target_folder(project).glob("*.dump")
    assert json.loads(dump.with_suffix(".json").read_text())["catalog"]["views"]  # the view is in the backup
    assert not records(project)


def test_the_record_is_proved_again_when_written_and_refused_for_a_target_that_is_no_longer_empty(
    owner_service, tmp_path
):
    """What the step itself does (in this process, ``service=target`` the owner's): the emptiness the
    plan read is proved again in the snapshot the record describes; an object created since means no
    record (the caller takes a pg_dump instead), and says why."""
    said = []
    folder = tmp_path / "backups" / "target"
    written = empty.record("target", folder, "postgres://o:***@h:5432/" + owner_service, "f" * 64, said.append)
    assert written is not None and store.is_empty_backup(store.read_json(written.path))
    query(owner_service, "CREATE VIEW answer AS SELECT 42 AS n")
    assert empty.record("target", folder, "postgres://o:***@h:5432/" + owner_service, "f" * 64, said.append) is None
    assert said == ["the target is no longer empty (view public.answer): a pg_dump instead"]
    assert [b.path for b in store.scan(folder).verified] == [written.path]


def test_the_record_of_another_database_is_refused_and_the_target_keeps_its_objects(project, source_db, tmp_path):
    """Restoring a record that says *another* database held nothing would only drop this one's objects."""
    assert project.deploy().code == 0
    (record,) = records(project)
    other = create_target_db()
    try:
        query(other, "CREATE TABLE precious (id int); INSERT INTO precious SELECT generate_series(1, 100)")
        before = catalog_and_data(other)
        elsewhere = Project(tmp_path / "other", other)
        result = elsewhere.restore(f"backup={record.path}", f"confirm={other}")
        assert result.code != 0
        # the general refusal of another database's backup (issue 29 class 2) covers this record too
        assert "is not a backup of this target (it is a backup of cluster " in result.output, result.output[-3000:]
        assert f", database {project.target_db} (oid " in result.output and ", and the target is " in result.output
        assert catalog_and_data(other) == before
    finally:
        drop_db(other)
