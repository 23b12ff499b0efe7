"""
Backups are never lost and never readable by others: the cases of issue 17 through the real pyinfra
CLI against the sandbox's PostgreSQL clusters (a tar round trip, the user's own dump, a damaged
dump, two deploys sharing BACKUP_DIR with a slow pg_dump, a table named "audit log", modes).
"""

import json
import os
import re
import stat
import subprocess
import time

import pytest

from tasks.backups import store
from tests.support import query

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters


def dumps(project, side="source"):
    return sorted((project.tmp / "backups" / side).glob("*.dump"))


def backups(project, side):
    """Every verified backup of ``side``: dumps, and the record of an empty target (a manifest alone)."""
    return [b.path for b in store.scan(project.tmp / "backups" / side).verified]


def verifies(dump):
    manifest = json.loads(dump.with_suffix(".json").read_text())
    if store.is_empty_backup(manifest):
        return manifest["verified"] and not dump.with_suffix(".dump").exists()
    return manifest["verified"] and store.sha256_file(dump) == manifest["sha256"]


def change(source_db, n):
    query(source_db, f"UPDATE users SET display_name = 'v{n}' WHERE id = 1", which="source")


def test_a_tar_round_trip_of_the_backup_folder_deletes_nothing(project, source_db, tmp_path):
    for n in range(3):
        change(source_db, n)
        assert project.deploy().code == 0
    before = dumps(project) + backups(project, "target")
    assert len(before) == 4  # 3 of the source, the record of the empty target
    archive = tmp_path / "backups.tar"
    subprocess.run(["tar", "cf", str(archive), "-C", str(tmp_path), "backups"], check=True)
    subprocess.run(["rm", "-rf", str(tmp_path / "backups")], check=True)
    subprocess.run(["tar", "xf", str(archive), "-C", str(tmp_path)], check=True)  # whole-second mtimes

    change(source_db, 9)
    project.write_migration("005_topics.sql", "CREATE TABLE topics (id int PRIMARY KEY);\n")
    result = project.deploy(BACKUP_KEEP="10")
    assert result.code == 0, result.output[-2000:]
    after = dumps(project) + backups(project, "target")
    assert set(before) <= set(after) and len(after) == 6
    assert all(verifies(d) for d in after)
    assert "re-verified 3 moved or copied backup(s) by sha256" in result.output


def test_the_users_own_dump_named_like_a_backup_is_never_deleted(project, source_db):
    assert project.deploy().code == 0
    folder = project.tmp / "backups" / "source"
    own = folder / f"{source_db}-20250101T000000Z.dump"
    own.write_bytes(b"the user's own dump, no manifest")
    for n in range(3):
        change(source_db, n)
        assert project.deploy(BACKUP_KEEP="1").code == 0
    assert own.read_bytes() == b"the user's own dump, no manifest"
    assert [d for d in dumps(project) if d != own] and len(dumps(project)) == 2  # BACKUP_KEEP=1, exactly


def test_a_dump_that_fails_its_sha256_is_set_aside_and_reported(project, source_db):
    assert project.deploy().code == 0
    (damaged,) = dumps(project)
    data = bytearray(damaged.read_bytes())
    data[-1] ^= 0xFF
    info = damaged.stat()
    damaged.write_bytes(bytes(data))
    os.utime(damaged, ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))  # same size, moved in time
    result = project.deploy()
    assert result.code == 0, result.output[-2000:]
    assert result.operations()["Source backup captured"] == "success"  # the damaged one no longer counts
    assert f"set aside {damaged.name}" in result.output
    assert (damaged.parent / (damaged.name + store.SET_ASIDE)).read_bytes() == bytes(data)
    assert len(dumps(project)) == 1 and verifies(dumps(project)[0])


SLOW_PG_DUMP = """#!/bin/sh
# A slow pg_dump, as on a large database or a busy machine: a dump takes 3 s more, --version 8 s.
case "$1" in --version) sleep 8;; *) sleep 3;; esac
exec /usr/bin/pg_dump "$@"
"""


def test_two_deploys_sharing_backup_dir_with_a_slow_pg_dump_lose_no_backup(project, source_db, tmp_path):
    """Deploy A dumps slowly; deploy B starts as soon as A's dump has its final name. Whatever B
    then does (take its own backup, prune), every backup either run reports exists and verifies
    (BACKUP_KEEP=2: no backup is old enough to be pruned)."""
    fake = tmp_path / "slow"
    fake.mkdir()
    (fake / "pg_dump").write_text(SLOW_PG_DUMP)
    (fake / "pg_dump").chmod(0o755)
    folder = project.tmp / "backups" / "source"
    slow = project.start("--json", BACKUP_KEEP="2", PATH=f"{fake}:{os.environ['PATH']}")
    deadline = time.monotonic() + 120
    while not [d for d in dumps(project) if not d.name.startswith(".")] and slow.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    fast = project.deploy(BACKUP_KEEP="2")
    out, err = slow.communicate(timeout=180)
    assert slow.returncode == 0 and fast.code == 0, (err + fast.output)[-3000:]
    reported = re.findall(r"backup (\S+\.dump) verified", out + err + fast.output)
    assert reported
    on_disk = dumps(project)
    assert all(d.with_suffix(".json").exists() and verifies(d) for d in on_disk)
    for path in reported:
        assert os.path.exists(path), f"{path} was reported verified, then lost"
    assert not list(folder.glob(".tmp-*"))


def test_a_source_table_named_audit_log_is_backed_up(project, source_db):
    query(source_db, 'CREATE TABLE "audit log" (id int PRIMARY KEY, "what.happened" text); '
                     'CREATE SCHEMA "my schema"; CREATE TABLE "my schema"."Ünïcode ""quoted""" (id int); '
                     'INSERT INTO "audit log" VALUES (1, \'x\'), (2, \'y\')', which="source")
    result = project.deploy()
    ops = result.operations()
    assert ops["Source backup captured"] == "success", result.output[-2000:]
    (dump,) = dumps(project)
    manifest = json.loads(dump.with_suffix(".json").read_text())
    assert manifest["rows"]['public."audit log"'] == 2 and manifest["tables"] == 7


def test_backups_manifests_and_state_are_private_whatever_the_umask(project, source_db):
    os.umask(0o022)
    (project.tmp / "backups" / "source").mkdir(parents=True)
    loose = project.tmp / "backups" / "source" / "notes.txt"
    loose.write_text("the user's own notes, world-readable")
    os.chmod(project.tmp / "backups", 0o755)
    os.chmod(project.tmp / "backups" / "source", 0o755)  # an older run's folder
    result = project.deploy()
    assert result.code == 0, result.output[-2000:]
    assert result.output.count("readable by their owner only") == 1
    assert stat.S_IMODE(loose.stat().st_mode) == 0o644  # not the tool's: left as it is
    for root in (project.tmp / "backups", project.state):
        for path in [root, *root.rglob("*")]:
            if path == loose:
                continue
            mode = stat.S_IMODE(path.lstat().st_mode)
            assert mode == (0o700 if path.is_dir() else 0o600), f"{path} is {oct(mode)}"
    again = project.deploy()
    assert "readable by their owner only" not in again.output


def test_the_dry_run_changes_no_mode_and_a_users_script_keeps_its_exec_bit(project, source_db):
    assert project.deploy().code == 0
    (dump,) = dumps(project)
    script = project.tmp / "backups" / "rotate.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    dump.chmod(0o644)  # as an older run (or a cp) left it
    dry = project.dry()
    assert dry.code == 0, dry.output[-2000:]
    assert "would make 1 of pgconverge's own" in dry.output and dump.name in dry.output
    assert stat.S_IMODE(dump.stat().st_mode) == 0o644 and stat.S_IMODE(script.stat().st_mode) == 0o755
    real = project.deploy()
    assert real.code == 0 and "made 1 of pgconverge's own" in real.output
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600 and stat.S_IMODE(script.stat().st_mode) == 0o755
