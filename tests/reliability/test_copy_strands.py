"""
Issue 30, the adversary's second pass (findings 2 and 4): one table's failure must not strand the
others. An application writes into the target while the copy runs (a session of its own on the
target, as the application would); through the real pyinfra CLI between the sandbox's two real
clusters (source PostgreSQL 15, target 17, an owner that is not a superuser). PostgreSQL is the
oracle: the target's ``pg_dump --schema-only`` against that of a database the migrations built, every
table's rows against the source's, the journal's rows, the run's record (latest-run.json).
"""

from __future__ import annotations

import time

import psycopg
import pytest

import sandbox
from tests.copy_support import fingerprints, same_schema, with_rows
from tests.reliability.test_copy_adversary import prepared
from tests.reliability.test_copy_keys import key_state
from tests.reliability.test_copy_kills import schema_dump
from tests.support import admin, query, report_rows

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

# big, detail and other are copied in ranges (COPY_SPLIT_MB=1), their keys set aside; detail's foreign
# key rests on big's key; parent is small (its key stays).
DDL = """
CREATE TABLE parent (id int PRIMARY KEY, name text);
CREATE TABLE big (id bigint PRIMARY KEY, v int, parent_id int REFERENCES parent, body text);
CREATE INDEX big_v ON big (v);
CREATE TABLE detail (id bigint PRIMARY KEY, big_id bigint REFERENCES big, body text);
CREATE TABLE other (id bigint PRIMARY KEY, code text UNIQUE, body text);
CREATE INDEX other_body ON other (left(body, 8));
"""
ROWS = """
INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, 200) g;
INSERT INTO big SELECT g, g % 97, 1 + g % 200, repeat(md5(g::text), 3) FROM generate_series(1, 40000) g;
INSERT INTO detail SELECT g, 1 + g % 40000, repeat(md5(g::text), 3) FROM generate_series(1, 30000) g;
INSERT INTO other SELECT g, 'c' || g, repeat(md5(g::text), 3) FROM generate_series(1, 30000) g;
"""
ASIDE_SQL = "SELECT tbl, name FROM pgconverge.copy_set_aside ORDER BY 1, 2"
BIG_RANGES = "SELECT EXISTS (SELECT FROM pgconverge.copy_ranges WHERE tbl = 'public.big')"


def recovered(project, source_db: str, expected: str, way: str, table: str) -> None:
    """The way forward the line names: the application's row in ``table`` deleted then a rerun
    (``way`` "delete"), or a rerun with COPY_CONFLICT=replace. Either finishes: the schema is the
    migrations', every row the source's, the journal gone."""
    if way == "delete":
        query(project.target_db, f"DELETE FROM {table} WHERE body = 'the application'")
        rerun = project.deploy()
    else:
        rerun = project.deploy(COPY_CONFLICT="replace")
    assert rerun.code == 0, rerun.output[-2500:]
    assert schema_dump(project.target_db) == expected
    assert with_rows(fingerprints(project.target_db, "target")) == with_rows(fingerprints(source_db, "source"))
    assert query(project.target_db, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgconverge'") == [(0,)]


@pytest.mark.parametrize("way", ["delete", "replace"])
def test_a_key_the_application_broke_leaves_every_other_object_put_back(project, source_db, way):
    """Finding 4: while big's primary key is set aside the application writes a second row with id 5
    (its lock holds the key's build until then). The key cannot be built: every other table's indexes
    and keys are put back all the same (the old put-back stopped at the first failure, leaving them
    aside), only big's key and detail's foreign key resting on it stay in the journal, the run fails.
    Once the application's row is deleted, a rerun finishes, and so does one with COPY_CONFLICT=replace:
    the schema is the migrations', every row the source's."""
    expected = prepared(project, source_db, DDL, ROWS)
    app = psycopg.connect(sandbox.admin_conninfo("target", project.target_db), autocommit=True)
    process = project.start()
    try:
        with admin("target", project.target_db) as conn:
            deadline, locked = time.monotonic() + 120, False
            while process.poll() is None and time.monotonic() < deadline:
                if not locked and key_state(conn) is False:  # big's key set aside: its build will wait on us
                    app.execute("BEGIN; LOCK TABLE big IN ROW EXCLUSIVE MODE")
                    locked = True
                if locked and not conn.execute(BIG_RANGES).fetchone()[0]:  # big copied and verified
                    break
                time.sleep(0.002)
            assert locked and process.poll() is None, "the run ended before big was copied with its key aside"
            app.execute("INSERT INTO big (id, v, parent_id, body) VALUES (5, 0, 1, 'the application'); COMMIT")
        out, err = process.communicate(timeout=180)
    finally:
        app.close()
    assert process.returncode != 0, out[-2500:] + err[-2500:]
    assert "(id)=(5)" in out + err  # PostgreSQL's own detail is passed on
    assert report_rows(project.tmp / "reports")["Data copied"][0] == "failed"
    assert query(project.target_db, ASIDE_SQL) == [
        ("public.big", "key:big_pkey"),
        ("public.big", "keyindex:big_pkey"),
        ("public.detail", "fkey:detail_big_id_fkey"),
    ]
    target, source = with_rows(fingerprints(project.target_db, "target")), with_rows(fingerprints(source_db, "source"))
    target.pop("pgconverge.copy_set_aside")
    assert target.pop("public.big")[0] == source.pop("public.big")[0] + 1 and target == source
    recovered(project, source_db, expected, way, "big")


def test_a_lock_held_through_the_put_back_of_one_table_leaves_the_others_put_back(project, source_db):
    """Finding 4, the lock: an application holds a write lock on big from its load through every try of
    the put-back. The run fails naming that session, but every object of the other tables is put back
    (the old put-back stopped at the first, leaving other's keys aside); only big's and the foreign key
    resting on big's key stay in the journal. Once the session ends a rerun finishes."""
    expected = prepared(project, source_db, DDL, ROWS)
    app = psycopg.connect(sandbox.admin_conninfo("target", project.target_db), autocommit=True)
    process = project.start()
    try:
        with admin("target", project.target_db) as conn:
            deadline = time.monotonic() + 120
            while process.poll() is None and time.monotonic() < deadline and key_state(conn) is not False:
                time.sleep(0.002)
            app.execute("BEGIN; LOCK TABLE big IN ROW EXCLUSIVE MODE")  # the load goes on, the put-back waits
        out, err = process.communicate(timeout=300)
    finally:
        app.close()
    assert process.returncode != 0, out[-2500:] + err[-2500:]
    assert report_rows(project.tmp / "reports")["Data copied"][0] == "failed"
    left = {table for table, _ in query(project.target_db, ASIDE_SQL)}
    assert left <= {"public.big", "public.detail"} and "public.big" in left
    assert ("public.detail", "fkey:detail_big_id_fkey") in query(project.target_db, ASIDE_SQL)
    assert query(project.target_db, "SELECT count(*) FROM pg_constraint WHERE conname IN ('other_pkey', "
                 "'other_code_key', 'detail_pkey')") == [(3,)]
    rerun = project.deploy()
    assert rerun.code == 0, rerun.output[-2500:]
    assert schema_dump(project.target_db) == expected
    assert with_rows(fingerprints(project.target_db, "target")) == with_rows(fingerprints(source_db, "source"))
    assert query(project.target_db, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgconverge'") == [(0,)]


# orders is copied in ranges by its integer key, which stays in place: little (small) has a foreign key
# resting on it. other is big too: its keys are set aside and must come back; so is casc, whose foreign
# key (set aside, ON DELETE CASCADE) rests on orders.
KEPT_DDL = """
CREATE TABLE orders (id bigint PRIMARY KEY, body text);
CREATE INDEX orders_body ON orders (left(body, 8));
CREATE TABLE little (id int PRIMARY KEY, order_id bigint REFERENCES orders);
CREATE TABLE casc (id bigint PRIMARY KEY, order_id bigint REFERENCES orders ON DELETE CASCADE, body text);
CREATE TABLE other (id bigint PRIMARY KEY, code text UNIQUE, body text);
CREATE INDEX other_body ON other (left(body, 8));
"""
KEPT_ROWS = """
INSERT INTO orders SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 60000) g;
INSERT INTO little SELECT g, g FROM generate_series(1, 50) g;
INSERT INTO casc SELECT g, 60001 - g, repeat(md5(g::text), 3) FROM generate_series(1, 30000) g;
INSERT INTO other SELECT g, 'c' || g, repeat(md5(g::text), 3) FROM generate_series(1, 30000) g;
"""
ORDERS_RANGES = "SELECT EXISTS (SELECT FROM pgconverge.copy_ranges WHERE tbl = 'public.orders')"


def app_row_in_a_range_to_come(project) -> tuple[int, str]:
    """Start the copy; once orders' ranges are recorded (its key kept in place) the application commits
    the row with id 60000, which the source has in orders' last range. The run's exit status and output."""
    app = psycopg.connect(sandbox.admin_conninfo("target", project.target_db), autocommit=True)
    process = project.start()
    try:
        with admin("target", project.target_db) as conn:
            deadline = time.monotonic() + 120
            while process.poll() is None and time.monotonic() < deadline:
                journal = conn.execute("SELECT to_regclass('pgconverge.copy_ranges') IS NOT NULL").fetchone()[0]
                if journal and conn.execute(ORDERS_RANGES).fetchone()[0]:
                    break
                time.sleep(0.002)
            assert process.poll() is None, "the run ended before orders' ranges were recorded"
            app.execute("INSERT INTO orders VALUES (60000, 'the application')")
        out, err = process.communicate(timeout=180)
    finally:
        app.close()
    return process.returncode, out + err


@pytest.mark.parametrize("way", ["delete", "replace"])
def test_a_row_the_application_writes_into_a_table_loading_in_ranges_strands_nothing(project, source_db, way):
    """Finding 2: a row the application commits into orders (its key kept in place) collides with a
    source row of a range not copied yet. orders is refused, its verified ranges stay committed, every
    other table is copied and everything set aside is put back (the old run stopped everything, and
    every rerun failed the same way, with COPY_CONFLICT=replace too). Then deleting that row and
    running again goes on where it stopped, and COPY_CONFLICT=replace reloads orders: both finish with
    the schema the migrations make and every row the source's. Third pass: the tables resting on orders
    (little, and casc with its key set aside) were loaded all the same, and casc's key then failed its
    validation on orders' missing rows: the line named that, not the application's row, and casc's
    objects stayed aside. They now wait for orders (not loaded in this run, their objects put back)."""
    expected = prepared(project, source_db, KEPT_DDL, KEPT_ROWS)
    code, output = app_row_in_a_range_to_come(project)
    assert code != 0, output[-2500:]
    assert "(id)=(60000)" in output  # PostgreSQL's own detail names the application's row
    assert report_rows(project.tmp / "reports")["Data copied"][0] == "failed"
    assert query(project.target_db, "SELECT count(*) FROM pgconverge.copy_set_aside") == [(0,)]
    target, source = with_rows(fingerprints(project.target_db, "target")), with_rows(fingerprints(source_db, "source"))
    assert target["public.other"] == source["public.other"]
    assert "public.little" not in target and "public.casc" not in target  # they wait for orders
    assert 0 < target["public.orders"][0] - 1 < source["public.orders"][0]
    recovered(project, source_db, expected, way, "orders")


def test_a_table_whose_rows_the_target_refuses_strands_no_other_table(project, source_db):
    """Third pass, finding B: the target's CHECK refuses a source row of strict (small). The old run
    stopped there: big, detail and other stayed with their keys and indexes set aside, and the way the
    line gave (a migration) was then refused while they were aside: stuck. Now every other table is
    copied and everything put back, the run fails naming strict; a migration that makes the target
    accept the row then applies, and the next run copies strict."""
    project.extra.update(DATA_MIGRATION="copy", COPY_JOBS="2", COPY_SPLIT_MB="1")
    project.seeds = project.tmp / "no-seed"
    strict = "CREATE TABLE strict (id int PRIMARY KEY, n int{});\nCREATE TABLE counted (id serial PRIMARY KEY);\n"
    same_schema(project, source_db, DDL + strict.format(""), DDL + strict.format(" CHECK (n >= 0)"))
    query(source_db, ROWS + "INSERT INTO strict VALUES (1, 5), (2, -1); INSERT INTO counted VALUES (1), (2), (40);",
          which="source")  # counted's sequence never called in the source: behind its rows
    refused = project.deploy()
    assert refused.code != 0, refused.output[-2500:]
    assert report_rows(project.tmp / "reports")["Data copied"][0] == "failed"
    assert query(project.target_db, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgconverge'") == [(0,)]
    target, source = with_rows(fingerprints(project.target_db, "target")), with_rows(fingerprints(source_db, "source"))
    assert source.pop("public.strict") and target == source  # every other table, all put back
    # fourth pass, finding 4: the sequences are moved although the run fails (the application writes meanwhile)
    assert query(project.target_db, "SELECT nextval('counted_id_seq')") == [(41,)]
    project.write_migration("901_accept.sql", "ALTER TABLE strict DROP CONSTRAINT strict_n_check;\n")
    accepted = project.deploy()
    assert accepted.code == 0, accepted.output[-2500:]
    assert with_rows(fingerprints(project.target_db, "target")) == with_rows(fingerprints(source_db, "source"))
