"""
The copy killed (SIGKILL of the deploy) at random moments of its load, of the rebuild of what it set
aside and of the foreign keys' validation; every rerun after a kill finishes it: the target's
``pg_dump --schema-only`` is then that of an uninterrupted copy and every table equals the source.
A rerun after a kill once some ranges were verified does not copy them again. Real sandbox
clusters, the real pyinfra CLI (a process of its own, killed with its children).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time

import psycopg
import pytest

import sandbox
from sandbox.binaries import cluster_bindir
from tests.copy_support import copy_phase as phase
from tests.copy_support import fingerprints, same_schema, with_rows
from tests.integration.test_copy_limit import StatementLog
from tests.support import admin, query

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

DDL = """
CREATE TABLE parent (id int PRIMARY KEY, name text);
CREATE TABLE big (id bigint PRIMARY KEY, v int NOT NULL DEFAULT 0, parent_id int REFERENCES parent, body text);
CREATE INDEX big_v ON big (v);
CREATE INDEX big_parent ON big (parent_id);
CREATE FUNCTION big_mark() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.v := -1; RETURN NEW; END $$;
CREATE TRIGGER big_marked BEFORE INSERT ON big FOR EACH ROW EXECUTE FUNCTION big_mark();
CREATE TABLE paged (body text, parent_id int REFERENCES parent, n int);
CREATE INDEX paged_n ON paged (n);
"""
ROWS = """
INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, 200) g;
ALTER TABLE big DISABLE TRIGGER big_marked;
INSERT INTO big SELECT g, g % 97, 1 + g % 200, repeat(md5(g::text), 3) FROM generate_series(1, {big}) g;
ALTER TABLE big ENABLE TRIGGER big_marked;
INSERT INTO paged SELECT repeat(md5(g::text), 3), 1 + g % 200, g FROM generate_series(1, {paged}) g;
"""
def setup(project, source_db, big: int = 20000, paged: int = 15000) -> None:
    project.extra.update(DATA_MIGRATION="copy", COPY_JOBS="2", COPY_SPLIT_MB="1")
    project.seeds = project.tmp / "no-seed"
    same_schema(project, source_db, DDL)
    query(source_db, ROWS.format(big=big, paged=paged), which="source")


def schema_dump(dbname: str) -> str:
    out = subprocess.run(
        [os.path.join(cluster_bindir("target"), "pg_dump"), "--schema-only", "--no-owner", "--no-privileges",
         sandbox.admin_conninfo("target", dbname)], capture_output=True, text=True, check=True)
    skipped = ("--", "\\restrict", "\\unrestrict")
    return "\n".join(line for line in out.stdout.splitlines() if not line.startswith(skipped))


def empty_target(dbname: str) -> None:
    query(dbname, "DROP SCHEMA IF EXISTS pgconverge CASCADE; TRUNCATE big, paged, parent")


def kill(process, dbname: str) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    query("postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                      "AND application_name = 'pgconverge'", (dbname,))


def kill_in(project, want: str, rng: random.Random) -> str | None:
    """Start the deploy and kill it in phase ``want`` ('load', 'rebuild' or 'validation'); the phase
    it was killed in (from the journal), or None when the run ended first. For 'rebuild', an
    application's lock on big (taken once the load began) makes the rebuild wait and retry."""
    dbname = project.target_db
    app = None
    process = project.start()
    try:
        with admin("target", dbname) as conn:
            deadline = time.monotonic() + 120
            while process.poll() is None and time.monotonic() < deadline:
                now = phase(conn)
                if want == "rebuild" and now == "load" and app is None:
                    app = psycopg.connect(sandbox.admin_conninfo("target", dbname), autocommit=True)
                    app.execute("BEGIN; LOCK TABLE big IN ROW EXCLUSIVE MODE")
                if now == want:
                    time.sleep(rng.uniform(0, 1.5) if want == "rebuild" else rng.uniform(0, 0.005))
                    kill(process, dbname)
                    after = phase(conn)
                    return after if after != "none" else now
            return None
    finally:
        if app is not None:
            app.close()
        if process.poll() is None:
            kill(process, dbname)


def test_twenty_kills_across_load_rebuild_and_validation_each_finished_by_a_rerun(project, source_db):
    """Issue 30: a kill at any moment leaves a state that a rerun finishes, no index or key lost.
    Chains of kills (in the load, then the rebuild its rerun resumes, then the validation), each
    chain then finished by a rerun and compared with an uninterrupted copy."""
    setup(project, source_db, big=40000)
    first = project.deploy()
    assert first.code == 0, first.output[-2500:]
    expected, rows = schema_dump(project.target_db), with_rows(fingerprints(source_db, "source"))
    rng = random.Random(30)
    hit: dict[str, int] = {}
    kills = runs = 0
    while kills < 20:
        empty_target(project.target_db)
        for want in ("load", "rebuild", "validation"):
            runs += 1
            landed = kill_in(project, want, rng)
            if landed is None:  # this run ended first: the chain is finished
                break
            kills += 1
            hit[landed] = hit.get(landed, 0) + 1
        assert runs < 45, f"only {kills} kills landed in {runs} runs: {hit}"
        rerun = project.deploy()
        assert rerun.code == 0, (hit, rerun.output[-2500:])
        assert schema_dump(project.target_db) == expected, hit
        assert with_rows(fingerprints(project.target_db, "target")) == rows, hit
        assert query(project.target_db, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgconverge'") == [(0,)]
    assert {"load", "rebuild", "validation"} <= set(hit), hit


def test_a_rerun_after_a_kill_does_not_copy_again_the_ranges_verified(project, source_db):
    """Issue 30: resumable inside a table: the ranges verified before the kill are not copied again."""
    setup(project, source_db, big=60000, paged=0)
    process = project.start()
    with admin("target", project.target_db) as conn:
        deadline = time.monotonic() + 120
        done = 0
        while process.poll() is None and time.monotonic() < deadline:
            if phase(conn) == "load":
                done = conn.execute("SELECT count(*) FILTER (WHERE done) FROM pgconverge.copy_ranges "
                                    "WHERE tbl = 'public.big'").fetchone()[0]
                if done:
                    break
            time.sleep(0.002)
        kill(process, project.target_db)
        ranges = conn.execute("SELECT count(*), count(*) FILTER (WHERE done), coalesce(sum(rows), 0) "
                              "FROM pgconverge.copy_ranges WHERE tbl = 'public.big'").fetchone()
    total, done, rows = ranges
    assert 0 < done < total, ranges
    assert query(project.target_db, "SELECT count(*) FROM big") == [(rows,)]  # only verified ranges are in
    log = StatementLog("target", project.target_db)
    rerun = project.deploy()
    assert rerun.code == 0, rerun.output[-2500:]
    assert log.count(r"COPY (public\.big) .*FROM STDIN")["public.big"] == total - done, rerun.output[-3000:]
    assert with_rows(fingerprints(project.target_db, "target")) == with_rows(fingerprints(source_db, "source"))
