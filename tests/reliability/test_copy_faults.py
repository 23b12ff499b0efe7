"""
Faults in the middle of the data copy: the target cluster stopped (and started again) while a
table streams, the target database's sessions killed. Each ends in one ``pgconverge:`` line, the
table rolled back, the summary row "failed", and a rerun converges. Real sandbox clusters, the
real pyinfra CLI.
"""

import pytest

import sandbox
from sandbox.cluster import stop_cluster
from tests.copy_support import fingerprints, verified_rows, with_rows
from tests.support import query, summary_rows, wait_for_query

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

BIG = ("INSERT INTO messages (room_id, user_id, body) SELECT 1 + g % 5, 1 + g % 50, repeat(md5(g::text), 8) "
       "FROM generate_series(1, 300000) g")


def _stop_target() -> None:
    stop_cluster(sandbox.load_state(), "target")


def _kill_sessions(dbname: str) -> None:
    query("postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                      "AND pid <> pg_backend_pid()", (dbname,))


@pytest.mark.parametrize("fault", [_stop_target, _kill_sessions], ids=["target stopped", "sessions killed"])
def test_fault_mid_copy_is_one_line_a_failed_row_and_a_rerun_converges(project, source_db, fault):
    query(source_db, BIG, which="source")
    project.extra["DATA_MIGRATION"] = "copy"
    project.seeds = project.tmp / "no-seed"
    process = project.start()
    wait_for_query(project.target_db, "COPY%FROM STDIN%", process)
    try:
        fault(project.target_db) if fault is _kill_sessions else fault()
        _out, err = process.communicate(timeout=120)
    finally:
        sandbox.up()
    assert process.returncode != 0
    lines = [line for line in err.splitlines() if "pgconverge:" in line]
    assert len(lines) == 1, err[-3000:]
    assert "public.messages" in lines[0] or "the copy stopped" in lines[0], lines[0]
    assert "run again" in lines[0]
    assert "Traceback" not in err
    assert summary_rows(err)["Data copied"][0] == "failed"
    # never half a table: all of it, or (a table over COPY_SPLIT_MB) exactly its ranges verified
    in_target = query(project.target_db, "SELECT count(*) FROM messages")[0][0]
    assert in_target in (300500, verified_rows(project.target_db, "public.messages"))

    rerun = project.deploy()
    assert rerun.code == 0, rerun.output[-3000:]
    assert with_rows(fingerprints(project.target_db, "target")) == with_rows(fingerprints(source_db, "source"))
    assert project.deploy().operations()["Data copied"] == "no_change"
