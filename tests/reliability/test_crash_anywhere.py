"""
Crash anywhere: the whole deploy (pyinfra and every child: psql, pg_dump) killed with SIGKILL at
random moments across every desired state (backups, shadow proof, migrations, copy, seed,
verification), then one plain rerun. After each rerun: the source is untouched, the target equals
the source (plus the seed rows), every backup on disk is verified, and no temporary file, shadow
database or service-file folder is left. Real sandbox clusters and the real pyinfra CLI.
``RELIABILITY_TRIALS`` sets the number of trials (30 in CI, more with ``make soak``), run in PARTS
contiguous parts, each a test of its own, so parallel workers share them (issue 26: one test of 30
trials was the suite's longest, and it ran last, alone).
"""

import glob
import hashlib
import json
import os
import random
import signal
import tempfile
import time
from pathlib import Path

import pytest

from tests.reliability.counts import add
from tests.support import create_target_db, drop_db, query, sandbox_urls, table_fingerprints, with_dbname

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

TRIALS = int(os.environ.get("RELIABILITY_TRIALS", "30"))
SEED = 1123
PARTS = 3


def trials_of(part: int) -> range:
    """The trials of one part: contiguous, so every part has cold-cache trials (every third)."""
    size = -(-TRIALS // PARTS)
    return range(part * size, min(TRIALS, (part + 1) * size))


def widen(project):
    """Migrations with pauses, so kills land inside them too."""
    for n in range(5, 9):
        project.write_migration(
            f"{n:03d}_extra_{n}.sql",
            f"CREATE TABLE extra_{n} (id int PRIMARY KEY);\n"
            f"SELECT pg_sleep(0.2);\nINSERT INTO extra_{n} VALUES ({n});\n",
        )


def backups_all_verified(folder):
    for dump in glob.glob(f"{folder}/**/*.dump", recursive=True):
        manifest = json.loads(Path(dump[: -len(".dump")] + ".json").read_text())
        assert manifest["verified"] and os.path.getsize(dump) == manifest["size_bytes"]
        with open(dump, "rb") as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == manifest["sha256"]
    assert not glob.glob(f"{folder}/**/.tmp-*", recursive=True), "a half-written backup was left"


def nothing_left_behind(killed_pid):
    shadows = query(
        "postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'pgconverge\\_shadow\\_%'", which="source"
    )[0][0]
    assert shadows == 0, "a shadow database was left"
    roles = query(
        "postgres", "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'pgconverge\\_shadow\\_%'", which="source"
    )[0][0]
    assert roles == 0, "the proof's role was left"
    assert not glob.glob(os.path.join(tempfile.gettempdir(), f"pgconverge-{killed_pid}-*")), "a service file was left"


@pytest.mark.long
@pytest.mark.parametrize("part", range(PARTS), ids=[f"part{n + 1}" for n in range(PARTS)])
def test_killed_anywhere_then_one_rerun_converges(project, source_db, tmp_path, part):
    query(
        source_db,
        "INSERT INTO messages (room_id, user_id, body) SELECT 1 + g % 5, 1 + g % 50, "
        "repeat(md5(g::text), 4) FROM generate_series(1, 60000) g",
        which="source",
    )
    source_before = table_fingerprints(source_db, "source")
    project.extra["DATA_MIGRATION"] = "copy"
    widen(project)
    # Every desired state gets its window: time one clean run first.
    started = time.monotonic()
    calibration = project.deploy()
    assert calibration.code == 0, calibration.output[-2000:]
    clean_run_s = time.monotonic() - started
    survived = 0
    trials = trials_of(part)
    for trial in trials:
        rng = random.Random(SEED * 1000 + trial)  # each trial its own draw, whichever part runs it
        db = create_target_db()
        project.target_db, project.target_url = db, with_dbname(sandbox_urls()["target"], db)
        if trial % 3 == 0:
            project.state = tmp_path / f"state-{trial}"  # a cold proof cache: kills land in the shadow too
        try:
            process = project.start()
            time.sleep(rng.uniform(0.05, clean_run_s * 1.1))
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
            rerun = project.deploy()
            assert rerun.code == 0, f"trial {trial}: {rerun.output[-2000:]}"
            assert table_fingerprints(source_db, "source") == source_before, "the source was changed"
            target = table_fingerprints(db, "target")
            participants = target.pop("room_participants")
            expected = dict(source_before)
            expected.pop("room_participants")
            assert {k: v for k, v in target.items() if not k.startswith("extra_")} == expected
            assert participants[0] == 2  # the seed rows, inserted once
            assert project.applied_versions() == list(range(1, 9))
            backups_all_verified(project.tmp / "backups")
            nothing_left_behind(process.pid)
            survived += 1
        finally:
            drop_db(db)
    add("crash trials", len(trials), part=f"{part + 1} of {PARTS}")
    add("crashes survived", survived, part=f"{part + 1} of {PARTS}")
    assert survived == len(trials)
