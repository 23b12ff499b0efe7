"""
Kill tests for issue 17: SIGKILL during a restore (restore.py with its psql and pg_restore) and
during pruning, then a rerun. Nothing is lost and the target is whole: a killed restore leaves the
target exactly as it was (one transaction), the rerun returns it to the backup's state; a killed
pruning leaves every backup either verified or pruned among the oldest (never a dump without its
manifest, never one of the newest), and the rerun keeps exactly BACKUP_KEEP. Real PostgreSQL (the
sandbox clusters), the real pyinfra CLI; the pruning trials run the pruning code in a child
process on real files (stand-in dump bytes: no database decides what may be deleted).
"""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tasks.backups import pruning, store
from tests.reliability.counts import add
from tests.support import ROOT, catalog_and_data, query, wait_for_query

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

TRIALS = int(os.environ.get("RELIABILITY_KILL_TRIALS", "6"))
SEED = 1717


@pytest.mark.long
def test_restore_killed_mid_transaction_leaves_the_target_whole_and_a_rerun_restores(project, source_db):
    assert project.deploy().code == 0
    query(project.target_db, "INSERT INTO messages (room_id, user_id, body) SELECT 1, 1, repeat(md5(g::text), 8) "
                             "FROM generate_series(1, 150000) g")  # a restore long enough to be killed in
    project.write_migration("005_audit.sql", "CREATE TABLE audit (id int PRIMARY KEY);\n"
                                             "ALTER TABLE users ADD COLUMN nickname text;\n")
    assert project.deploy().code == 0
    dump = max((project.tmp / "backups" / "target").glob("*.dump"))
    digest = store.sha256_file(dump)
    after_005 = catalog_and_data(project.target_db)
    rng = random.Random(SEED)
    killed = 0
    for trial in range(3):
        process = subprocess.Popen(
            project.command("--data", f"backup={dump}", "--data", f"confirm={project.target_db}",
                            deploy_file="restore.py"),
            cwd=ROOT, env=project.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        wait_for_query(project.target_db, "%COPY %", process)
        time.sleep(rng.uniform(0, 0.3))
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        killed += 1
        time.sleep(0.5)  # the server notices the lost connection and rolls back
        assert catalog_and_data(project.target_db) == after_005, f"trial {trial}: a killed restore changed the target"
    assert store.sha256_file(dump) == digest
    rerun = project.restore(f"backup={dump}", f"confirm={project.target_db}")
    assert rerun.code == 0, rerun.output[-3000:]
    assert project.tables() == ["messages", "room_participants", "rooms", "users"]
    assert project.applied_versions() == [1, 2, 3, 4]
    add("restores killed, target whole", killed)


PRUNE = """
import sys
from pathlib import Path
from tasks.backups import pruning
pruning.tidy(Path(sys.argv[1]), "app", keep=int(sys.argv[2]))
"""


def make_folder(folder: Path, count: int, size: int) -> list[Path]:
    """``count`` backups of "app" with manifests, as after a tar round trip (whole-second mtimes):
    pruning must hash every one of them again first."""
    folder.mkdir(parents=True)
    made = []
    for n in range(count):
        dump = folder / f"app-20260101T{n // 60:02d}{n % 60:02d}00000000Z.dump"
        dump.write_bytes(os.urandom(size))
        info = dump.stat()
        store.write_manifest(dump, {"verified": True, "database": "app", "sha256": store.sha256_file(dump),
                                    "size_bytes": info.st_size, "mtime_ns": info.st_mtime_ns + 1,
                                    "created_at": f"2026-01-01T00:{n:02d}:00Z", "rows": {}})
        made.append(dump)
    (folder / "app-20250101T000000Z.dump").write_bytes(b"the user's own")
    return made


def test_pruning_killed_anywhere_loses_nothing_and_a_rerun_keeps_exactly_backup_keep(tmp_path):
    keep, count = 3, 24
    rng = random.Random(SEED)
    calibration = make_folder(tmp_path / "calibration", count, 2 << 20)
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", PRUNE, str(calibration[0].parent), str(keep)], cwd=ROOT, check=True)
    clean_s = time.monotonic() - started
    survived = 0
    for trial in range(TRIALS):
        made = make_folder(tmp_path / f"t{trial}", count, 2 << 20)
        folder = made[0].parent
        process = subprocess.Popen([sys.executable, "-c", PRUNE, str(folder), str(keep)], cwd=ROOT)
        time.sleep(rng.uniform(0.05, clean_s))
        process.send_signal(signal.SIGKILL)
        process.wait()
        left = sorted(folder.glob("app-2026*.dump"))
        assert set(made[-keep:]) <= set(left), f"trial {trial}: one of the newest backups is gone"
        assert all(store.check_file(d, store.read_manifest(d)) is None for d in left), "a backup lost its manifest"
        assert (folder / "app-20250101T000000Z.dump").exists()
        assert not list(folder.glob(f"*{store.SET_ASIDE}"))
        pruning.tidy(folder, "app", keep)
        assert sorted(folder.glob("app-2026*.dump")) == made[-keep:]
        assert sorted(p.name for p in folder.glob("*.json")) == sorted(
            d.with_suffix(".json").name for d in made[-keep:]
        )
        assert not [p for p in folder.iterdir() if p.name.startswith(".") and p.name != store.LOCK_NAME]
        survived += 1
    add("pruning kills survived", survived)
    assert survived == TRIALS
