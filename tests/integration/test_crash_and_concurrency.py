"""
Crash safety and concurrency of the migration engine, against the sandbox's real PostgreSQL:
the whole deploy (pyinfra and every child) killed with SIGKILL at random moments, four deploys
started at once, and a CREATE INDEX CONCURRENTLY killed mid-build.
"""

import os
import random
import signal
import time

import psycopg
import pytest

import sandbox
from tests.support import create_target_db, drop_db, query

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

TRIALS = 20
SEED = 20261123


def numbered_files(project, count=12, sleepy=(2, 3, 5, 7, 9, 11)):
    for old in project.migrations.glob("*.sql"):
        old.unlink()
    project.seeds = project.tmp / "no-seed"
    project.write_migration(
        "001_log.sql",
        "CREATE TABLE applied_log (version int NOT NULL, at timestamptz DEFAULT clock_timestamp());\n"
        "INSERT INTO applied_log (version) VALUES (1);\n",
    )
    for n in range(2, count + 1):
        sleep = "SELECT pg_sleep(0.2);\n" if n in sleepy else ""
        project.write_migration(
            f"{n:03d}_k{n}.sql",
            f"CREATE TABLE k{n} (id int PRIMARY KEY);\n{sleep}INSERT INTO k{n} VALUES ({n});\n"
            f"INSERT INTO applied_log (version) VALUES ({n});\n",
        )


def history_agrees_with_catalog(dbname, count=12):
    applied = set()
    if query(dbname, "SELECT to_regclass('public.schema_migrations') IS NOT NULL")[0][0]:
        applied = {r[0] for r in query(dbname, "SELECT version FROM schema_migrations")}
    has_log = query(dbname, "SELECT to_regclass('public.applied_log') IS NOT NULL")[0][0]
    assert has_log == (1 in applied)
    for n in range(2, count + 1):
        exists = query(dbname, f"SELECT to_regclass('public.k{n}') IS NOT NULL")[0][0]
        assert exists == (n in applied), f"k{n} exists={exists} but recorded={n in applied}"
    if has_log:
        logged = sorted(r[0] for r in query(dbname, "SELECT version FROM applied_log"))
        assert logged == sorted(applied), "every recorded file ran exactly once"
    return applied


def kill_group(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def shadows_left():
    return query(
        "postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'pgconverge\\_shadow\\_%'", which="source"
    )[0][0]


def use_new_target(project) -> str:
    from tests.support import sandbox_urls, with_dbname

    db = create_target_db()
    project.target_db, project.target_url = db, with_dbname(sandbox_urls()["target"], db)
    return db


def wait_for_no_session(db: str, limit_s: float = 60) -> None:
    """Until the killed run's sessions have ended: the engine sends a whole file at once, and the
    server finishes the statement list it received (all of it, or none, is committed)."""
    deadline = time.monotonic() + limit_s
    while (
        query(
            db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )[0][0]
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)


def applied_count(db: str) -> int:
    tracked = query(db, "SELECT to_regclass('public.schema_migrations') IS NOT NULL")[0][0]
    return query(db, "SELECT count(*) FROM schema_migrations")[0][0] if tracked else 0


def wait_until_applied(process, db: str, count: int, limit_s: float = 120) -> None:
    """Return once ``count`` files are recorded (or the run ended): a kill then lands mid-apply
    whatever the machine's speed or load."""
    deadline = time.monotonic() + limit_s
    while process.poll() is None and applied_count(db) < count and time.monotonic() < deadline:
        time.sleep(0.01)


PARTS = 2  # the trials in contiguous parts, each a test of its own: parallel workers share them (issue 26)


@pytest.mark.long
@pytest.mark.parametrize("part", range(PARTS), ids=[f"part{n + 1}" for n in range(PARTS)])
def test_killed_at_random_moments_then_one_rerun_converges(project, tmp_path, part):
    """Most kills are aimed between two files (after a random number of them is recorded: the next
    one may be running), the others at a random moment of the whole run (proof, backups, verification)."""
    numbered_files(project)
    partial = 0
    size = -(-TRIALS // PARTS)
    trials = range(part * size, min(TRIALS, (part + 1) * size))  # contiguous: each part has every kind of trial
    for trial in trials:
        rng = random.Random(SEED * 1000 + trial)  # each trial its own draw, whichever part runs it
        db = use_new_target(project)
        if trial % 5 == 0:  # a cold cache: the kill can land in the shadow proof too
            project.state = tmp_path / f"state{trial}"
        try:
            process = project.start()
            if trial % 4 == 3:
                time.sleep(rng.uniform(0.1, 8.0))
            else:
                wait_until_applied(process, db, rng.randint(1, 11))
            kill_group(process)
            wait_for_no_session(db)  # a file sent whole before the kill is finished (or not) by the server, atomically
            applied = history_agrees_with_catalog(db)
            partial += 0 < len(applied) < 12
            rerun = project.deploy()
            assert rerun.code == 0, f"trial {trial}: {rerun.output[-2000:]}"
            assert history_agrees_with_catalog(db) == set(range(1, 13))
            assert shadows_left() == 0
        finally:
            drop_db(db)
    print(f"{partial} of {len(trials)} kills landed mid-apply")
    assert partial >= len(trials) // 5, f"only {partial} of {len(trials)} kills landed mid-apply: widen the windows"


def test_four_deploys_at_once_apply_every_file_once(project):
    numbered_files(project, sleepy=(2, 4, 6, 8, 10, 12))
    runs = [project.start() for _ in range(4)]
    errors = [run.communicate(timeout=180)[1] for run in runs]
    outcomes = [(run.returncode, err) for run, err in zip(runs, errors)]
    for code, err in outcomes:
        assert code == 0 or "another deploy holds the migration lock" in err, err[-2000:]
    assert any(code == 0 for code, _ in outcomes)
    assert history_agrees_with_catalog(project.target_db) == set(range(1, 13))
    counts = query(project.target_db, "SELECT version, count(*) FROM applied_log GROUP BY version ORDER BY version")
    assert counts == [(v, 1) for v in range(1, 13)]


def test_concurrent_index_build_killed_mid_build_is_rebuilt_on_rerun(project):
    for old in project.migrations.glob("*.sql"):
        old.unlink()
    project.seeds = project.tmp / "no-seed"
    project.write_migration(
        "001_big.sql",
        "CREATE TABLE big (id int PRIMARY KEY, val int);\n"
        "INSERT INTO big SELECT g, g % 97 FROM generate_series(1, 5000) g;\n",
    )
    assert project.deploy().code == 0
    project.write_migration(
        "002_big_val_idx.sql",
        "-- pgconverge:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS big_val_idx ON big (val);\n",
    )
    invalid = "SELECT count(*) FROM pg_index WHERE indexrelid = to_regclass('big_val_idx') AND NOT indisvalid"
    with psycopg.connect(sandbox.admin_conninfo("target", project.target_db)) as blocker:
        blocker.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        blocker.execute("SELECT count(*) FROM big")  # an old snapshot: the build waits for it
        process = project.start(MIGRATION_LOCK_TIMEOUT="60s")
        deadline = time.monotonic() + 60
        while query(project.target_db, invalid)[0][0] == 0:
            assert time.monotonic() < deadline and process.poll() is None, "the build never started"
            time.sleep(0.05)
        kill_group(process)
        # The deploy is gone; its server session dies with the connection (as on a lost network).
        query(
            project.target_db,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'pgconverge'",
        )
        blocker.rollback()
    assert query(project.target_db, invalid)[0][0] == 1, "an INVALID index was left behind"
    assert project.applied_versions() == [1]

    rerun = project.deploy()
    assert rerun.code == 0, rerun.output[-2000:]
    assert "dropping INVALID index big_val_idx" in rerun.output
    assert query(
        project.target_db, "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('big_val_idx')"
    ) == [(True,)]
    assert project.applied_versions() == [1, 2]
    assert project.deploy().changed() == []
