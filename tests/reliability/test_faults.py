"""
Faults from outside: the target cluster stopped in the middle of the migrations, and four deploys
started at once on one target (migrations, copy and seed each exactly once). Real sandbox
clusters, the real pyinfra CLI.
"""


import pytest

import sandbox
from tests.reliability.counts import add
from tests.support import table_fingerprints, wait_for_query

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters


def test_target_lost_during_migrations_gives_one_clear_error_then_a_rerun_converges(project):
    for n in range(5, 9):
        project.write_migration(f"{n:03d}_slow_{n}.sql", f"CREATE TABLE slow_{n} (id int);\nSELECT pg_sleep(0.5);\n")
    process = project.start()
    wait_for_query(project.target_db, "%pg_sleep%", process, timeout=60)
    try:
        sandbox.down()  # the target (and source) cluster goes away mid-migration
        _, err = process.communicate(timeout=120)
    finally:
        sandbox.up()
    assert process.returncode != 0
    lines = [line for line in err.splitlines() if "pgconverge:" in line]
    assert len(lines) == 1 and ("connection" in lines[0] or "server closed" in lines[0]), err[-2000:]
    assert "Traceback" not in err
    rerun = project.deploy()
    assert rerun.code == 0, rerun.output[-2000:]
    assert project.applied_versions() == list(range(1, 9))
    add("target lost mid-run, recovered", 1)


def test_four_deploys_at_once_migrate_copy_and_seed_once(project, source_db):
    project.extra["DATA_MIGRATION"] = "copy"
    for n in range(5, 8):
        project.write_migration(f"{n:03d}_slow_{n}.sql", f"CREATE TABLE slow_{n} (id int);\nSELECT pg_sleep(0.3);\n")
    runs = [project.start() for _ in range(4)]
    errors = [run.communicate(timeout=300)[1] for run in runs]
    for run, err in zip(runs, errors):
        assert run.returncode == 0 or "another deploy holds the migration lock" in err, err[-2000:]
    assert project.applied_versions() == list(range(1, 8))
    target = table_fingerprints(project.target_db, "target")
    source = table_fingerprints(source_db, "source")
    assert target.pop("room_participants")[0] == 2  # seed rows once
    source.pop("room_participants")
    assert {k: v for k, v in target.items() if not k.startswith("slow_")} == source  # copied once
    add("concurrent deploys", 4)
