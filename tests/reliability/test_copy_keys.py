"""
Issue 30, the next step: a big table copied into empty is loaded into a heap with no index, its
primary key and unique constraints and indexes built after the rows with its other indexes, as
``pg_restore`` does. Through the real pyinfra CLI between the sandbox's two real clusters (source
PostgreSQL 15, target 17, an owner that is not a superuser); PostgreSQL is the oracle: the target's
``pg_dump --schema-only`` against that of a database the migrations built (a fresh run), every
table's rows against the source's, the server's own statement log for what was dropped and when.
"""

from __future__ import annotations

import re
import time

import psycopg
import pytest

import sandbox
from tests.copy_support import copy_phase as phase
from tests.copy_support import fingerprints, with_rows
from tests.integration.test_copy_limit import StatementLog
from tests.reliability.test_copy_adversary import prepared
from tests.reliability.test_copy_kills import DDL, ROWS, kill, schema_dump
from tests.support import admin, query

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

# big: a primary key, a deferrable unique key and a unique index NULLS NOT DISTINCT, all set aside;
# detail (big too) references big: its foreign key is set aside, so big's key goes with it;
# parent is small and little (small) references it: parent's key stays (little's key is checked during
# its load); an exclusion constraint, a key of REPLICA IDENTITY and a partition's key (inherited from
# its parent's) stay in place.
KEYS_DDL = """
CREATE TABLE parent (id int PRIMARY KEY, name text);
CREATE TABLE little (id int PRIMARY KEY, parent_id int REFERENCES parent);
CREATE TABLE big (id bigint PRIMARY KEY, code text NOT NULL, v int, body text,
                  CONSTRAINT big_code_key UNIQUE (code) DEFERRABLE INITIALLY DEFERRED);
CREATE UNIQUE INDEX big_v_unique ON big (v) NULLS NOT DISTINCT;
CREATE INDEX big_body ON big (left(body, 8));
CREATE TABLE detail (id bigint PRIMARY KEY, big_id bigint REFERENCES big, body text);
CREATE TABLE booked (id bigint, during int4range, body text,
                     CONSTRAINT booked_no_overlap EXCLUDE USING gist (during WITH &&));
CREATE TABLE ident (id bigint NOT NULL, body text);
CREATE UNIQUE INDEX ident_id ON ident (id);
ALTER TABLE ident REPLICA IDENTITY USING INDEX ident_id;
CREATE TABLE part (id bigint, k int, body text, PRIMARY KEY (id, k)) PARTITION BY RANGE (k);
CREATE TABLE part_1 PARTITION OF part FOR VALUES FROM (0) TO (50);
CREATE TABLE part_2 PARTITION OF part FOR VALUES FROM (50) TO (100);
"""
KEYS_ROWS = """
INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, 100) g;
INSERT INTO little SELECT g, 1 + g % 100 FROM generate_series(1, 50) g;
INSERT INTO big SELECT g, 'c' || g, CASE WHEN g = 7 THEN NULL ELSE g END, repeat(md5(g::text), 3)
  FROM generate_series(1, 30000) g;
INSERT INTO detail SELECT g, 1 + g % 30000, repeat(md5(g::text), 3) FROM generate_series(1, 30000) g;
INSERT INTO booked SELECT g, int4range(g * 10, g * 10 + 5), repeat(md5(g::text), 3) FROM generate_series(1, 20000) g;
INSERT INTO ident SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 20000) g;
INSERT INTO part SELECT g, g % 100, repeat(md5(g::text), 3) FROM generate_series(1, 30000) g;
"""
PUT_ON_INDEX = r"ADD CONSTRAINT (\w+) (?:PRIMARY KEY|UNIQUE) USING INDEX"
DROPPED = r"(?:DROP CONSTRAINT|DROP INDEX public\.) ?(\w+)"


def test_big_tables_keys_are_built_after_their_rows_and_the_schema_is_the_migrations(project, source_db):
    """The primary key, unique constraints (a deferrable one) and unique indexes of the big tables
    are dropped before their rows arrive and built after them; what must stay (a key a small table's
    foreign key rests on, an exclusion constraint, the key of REPLICA IDENTITY, a partition's key)
    stays. The target's schema is then the migrations' (the run's own catalog recheck passes), every
    row is the source's, and a rerun changes nothing."""
    expected = prepared(project, source_db, KEYS_DDL, KEYS_ROWS)
    log = StatementLog("target", project.target_db)
    done = project.deploy()
    assert done.code == 0, done.output[-2500:]
    entries = [e for e in log.entries() if " DETAIL: " not in e.split("\n", 1)[0]]  # not the journal's values
    put_on = [name for entry in entries for name in re.findall(PUT_ON_INDEX, entry)]
    assert sorted(put_on) == ["big_code_key", "big_pkey", "detail_pkey"], put_on
    dropped = {name for entry in entries for name in re.findall(DROPPED, entry)}
    assert {"big_pkey", "big_code_key", "big_v_unique", "detail_pkey", "detail_big_id_fkey"} <= dropped, dropped
    assert not dropped & {"parent_pkey", "booked_no_overlap", "ident_id", "part_pkey", "part_1_pkey", "part_2_pkey"}
    # big's key is dropped before its first rows arrive and put back after its last
    first = [i for i, e in enumerate(entries) if re.search(r"COPY public\.big .*FROM STDIN", e)]
    drop = next(i for i, e in enumerate(entries) if "DROP CONSTRAINT big_pkey" in e)
    back = next(i for i, e in enumerate(entries) if "ADD CONSTRAINT big_pkey PRIMARY KEY USING INDEX" in e)
    assert drop < min(first) and max(first) < back, (drop, first, back)
    assert schema_dump(project.target_db) == expected
    assert with_rows(fingerprints(project.target_db, "target")) == with_rows(fingerprints(source_db, "source"))
    assert query(project.target_db, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgconverge'") == [(0,)]
    again = project.deploy()
    assert again.code == 0 and again.operations()["Data copied"] == "no_change", again.output[-2500:]


KEY_ROW = "SELECT added FROM pgconverge.copy_set_aside WHERE tbl = 'public.big' AND name = 'keyindex:big_pkey'"


def key_state(conn) -> bool | None:
    """big's key in the journal: None (not there), False (its index to build), True (built, the
    constraint not on it yet)."""
    if phase(conn) == "none":
        return None
    try:
        row = conn.execute(KEY_ROW).fetchone()
    except psycopg.errors.UndefinedTable:
        return None
    return row[0] if row else None


def kill_when(project, lock: str, want: bool, started_lock: bool) -> None:
    """Start the deploy; an application takes ``lock`` on big (once big's key is set aside, or before
    the deploy with ``started_lock``) and the deploy is killed once big's key is in state ``want``
    (False: once the rows are in, the rebuild begun)."""
    app = psycopg.connect(sandbox.admin_conninfo("target", project.target_db), autocommit=True)
    locked = started_lock
    if locked:
        app.execute(f"BEGIN; {lock}")
    process = project.start()
    try:
        with admin("target", project.target_db) as conn:

            def reached() -> bool:
                return key_state(conn) is want and (want or phase(conn) == "rebuild")

            deadline = time.monotonic() + 120
            while process.poll() is None and time.monotonic() < deadline and not reached():
                if not locked and key_state(conn) is False:
                    app.execute(f"BEGIN; {lock}")
                    locked = True
                time.sleep(0.002)
            assert process.poll() is None, "the run ended before big's key was in the state to kill it in"
            if not want:
                time.sleep(0.3)  # the key's index build waits on the application's lock
            kill(process, project.target_db)
            assert key_state(conn) is want
    finally:
        app.close()


def test_kills_while_a_key_is_rebuilt_are_finished_by_a_rerun(project, source_db):
    """A kill while big's key waits to be built (an application's write lock holds its index build),
    then a kill once its index is built but the constraint not yet on it (an application's read holds
    the ALTER TABLE): each leaves a state the schema check takes as set aside, not as drift, and a rerun
    finishes: the key is back as the migrations have it, every row is the source's, the journal is gone."""
    expected = prepared(project, source_db, DDL, ROWS.format(big=40000, paged=15000))
    kill_when(project, "LOCK TABLE big IN ROW EXCLUSIVE MODE", want=False, started_lock=False)
    assert query(project.target_db, "SELECT count(*) FROM pg_indexes WHERE indexname = 'big_pkey'") == [(0,)]
    kill_when(project, "SELECT count(*) FROM big", want=True, started_lock=True)
    assert query(project.target_db, "SELECT count(*) FROM pg_constraint WHERE conname = 'big_pkey'") == [(0,)]
    assert query(project.target_db, "SELECT count(*) FROM pg_indexes WHERE indexname = 'big_pkey'") == [(1,)]
    fresh = project.deploy(DATA_MIGRATION="fresh")
    assert fresh.code != 0, fresh.output[-2500:]  # something is set aside: only a copy puts it back
    rerun = project.deploy()
    assert rerun.code == 0, rerun.output[-2500:]
    assert schema_dump(project.target_db) == expected
    assert with_rows(fingerprints(project.target_db, "target")) == with_rows(fingerprints(source_db, "source"))
    assert query(project.target_db, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgconverge'") == [(0,)]
