"""
The adversary's findings on issue 30's copy, each replayed through the real pyinfra CLI between the
sandbox's two real clusters (source PostgreSQL 15, target 17, an owner that is not a superuser).
PostgreSQL is the oracle: the target's ``pg_dump --schema-only`` against that of a database the
migrations built, every table's rows (by column name) against the source's.
"""

from __future__ import annotations

import time

import pytest

from tests.copy_support import copy_phase as phase
from tests.copy_support import fingerprints, same_schema, with_rows
from tests.reliability.test_copy_kills import DDL, ROWS, kill, schema_dump
from tests.support import admin, create_target_db, drop_db, query

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

# the kill test's schema, and a trigger that fires ALWAYS: a state a rebuild must give back too
ALWAYS = DDL + "CREATE TRIGGER big_always BEFORE UPDATE ON big FOR EACH ROW EXECUTE FUNCTION big_mark();\n" \
               "ALTER TABLE big ENABLE ALWAYS TRIGGER big_always;\n"


def prepared(project, source_db, ddl: str = ALWAYS, rows: str = ROWS.format(big=40000, paged=15000)) -> str:
    """The schema in both, rows in the source, the target's schema as the migrations make it (a fresh
    run): its ``pg_dump --schema-only``. The target's tables then empty, ready for a copy."""
    project.extra.update(DATA_MIGRATION="copy", COPY_JOBS="2", COPY_SPLIT_MB="1")
    project.seeds = project.tmp / "no-seed"
    same_schema(project, source_db, ddl)
    query(source_db, rows, which="source")
    fresh = project.deploy(DATA_MIGRATION="fresh")
    assert fresh.code == 0, fresh.output[-2500:]
    return schema_dump(project.target_db)


def killed_in_load(project) -> None:
    """Start a copy and kill it once it has set aside the indexes, keys and triggers."""
    process = project.start()
    with admin("target", project.target_db) as conn:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline and phase(conn) != "load":
            time.sleep(0.002)
        kill(process, project.target_db)
        assert phase(conn) == "load"


def test_after_a_kill_a_fresh_run_refuses_while_the_copy_has_objects_set_aside(project, source_db):
    """Finding 3: after a kill, DATA_MIGRATION=fresh ended green with 13 indexes and 3 keys missing
    and triggers disabled. It now refuses (the journal stays), and a copy run then finishes: the
    target's schema is the migrations'."""
    expected = prepared(project, source_db)
    killed_in_load(project)
    fresh = project.deploy(DATA_MIGRATION="fresh")
    assert fresh.code != 0, fresh.output[-2500:]
    assert query(project.target_db, "SELECT count(*) > 0 FROM pgconverge.copy_set_aside") == [(True,)]
    finished = project.deploy()
    assert finished.code == 0, finished.output[-2500:]
    assert schema_dump(project.target_db) == expected
    assert with_rows(fingerprints(project.target_db, "target")) == with_rows(fingerprints(source_db, "source"))


def migrated(before: str, text: str) -> str:
    """The oracle: the schema ``before`` (a ``pg_dump --schema-only``) with ``text`` applied, as
    PostgreSQL makes it in a scratch database of the target's cluster: its ``pg_dump --schema-only``."""
    name = create_target_db()
    try:
        query(name, before)
        query(name, text)
        return schema_dump(name)
    finally:
        drop_db(name)


def test_after_a_kill_pending_migrations_run_once_what_the_copy_set_aside_is_back(project, source_db):
    """Adversary pass 2, finding 5, then pass 4, findings 2 and 3: after a kill, a new migration ran while
    big's primary key was set aside (a valid foreign key on it failed as "fix the file"; a file that
    dropped an object the copy then put back left drift); refusing the files instead left dead ends. Now
    what is set aside is put back first (after the target's backup), the files run, and the copy
    finishes: the target's schema is the migrations' (PostgreSQL's, with the file applied) and its rows
    the source's (a foreign key the file renames is still validated). Without DATA_MIGRATION=copy,
    nothing changes: only the copy puts them back."""
    expected = prepared(project, source_db)
    killed_in_load(project)
    aside = query(project.target_db, "SELECT count(*) FROM pgconverge.copy_set_aside")
    assert query(project.target_db, "SELECT to_regclass('big_v') IS NULL") == [(True,)]
    text = ("CREATE TABLE t3 (id int PRIMARY KEY, big_id bigint REFERENCES big);\nDROP INDEX IF EXISTS big_v;\n"
            "ALTER TABLE big RENAME CONSTRAINT big_parent_id_fkey TO big_parent_fk;\n")  # still validated
    project.write_migration("950_points_at_big.sql", text)
    refused = project.deploy(DATA_MIGRATION="fresh")
    assert refused.code != 0, refused.output[-2500:]
    assert query(project.target_db, "SELECT to_regclass('t3') IS NULL, count(*) FROM pgconverge.copy_set_aside") == [
        (True, aside[0][0])]
    finished = project.deploy()
    assert finished.code == 0, finished.output[-2500:]
    assert schema_dump(project.target_db) == migrated(expected, text)
    assert with_rows(fingerprints(project.target_db, "target")) == with_rows(fingerprints(source_db, "source"))
    again = project.deploy()
    assert again.code == 0 and again.changed() == [], again.output[-2500:]


def test_after_a_kill_a_column_added_in_the_source_first_comes_with_its_migration(project, source_db):
    """Adversary pass 4, finding 2 (a dead end): after a kill, a column added in the source, then its
    migration: the file waited for the copy, and the copy could not finish without it. The rerun now
    puts back what was set aside, adds the column, and copies big's rows again with it."""
    expected = prepared(project, source_db)
    killed_in_load(project)
    text = "ALTER TABLE big ADD COLUMN note text NOT NULL DEFAULT 'n';\n"
    query(source_db, text + "UPDATE big SET note = 'x' || id WHERE id % 7 = 0;", which="source")
    project.write_migration("951_note.sql", text)
    finished = project.deploy()
    assert finished.code == 0, finished.output[-2500:]
    assert schema_dump(project.target_db) == migrated(expected, text)
    assert with_rows(fingerprints(project.target_db, "target")) == with_rows(fingerprints(source_db, "source"))


def test_a_foreign_key_the_source_breaks_declared_not_valid_by_a_migration_finishes_the_copy(project, source_db):
    """Adversary pass 4, finding 3 (a dead end): the source's rows break a foreign key of the migrations'
    schema; the copy's line says to declare it NOT VALID in a migration, and that migration then waited
    for the copy. Now it runs (the key the copy added NOT VALID is the migration's from then on, never
    validated): the copy finishes, the key stays NOT VALID, and a rerun changes nothing."""
    expected = prepared(project, source_db)
    query(source_db, "ALTER TABLE big DROP CONSTRAINT big_parent_id_fkey; "
                     "UPDATE big SET parent_id = 100000 + id WHERE id % 500 = 0;", which="source")
    broken = project.deploy()
    assert broken.code != 0, broken.output[-2500:]
    assert "NOT VALID" in broken.output  # the line's way forward (the subject here is that way)
    text = ("ALTER TABLE big DROP CONSTRAINT big_parent_id_fkey;\n"
            "ALTER TABLE big ADD CONSTRAINT big_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES parent NOT VALID;\n")
    project.write_migration("952_not_valid.sql", text)
    finished = project.deploy()
    assert finished.code == 0, finished.output[-2500:]
    assert schema_dump(project.target_db) == migrated(expected, text)
    assert query(project.target_db, "SELECT convalidated FROM pg_constraint WHERE conname = 'big_parent_id_fkey'") == [
        (False,)]
    assert with_rows(fingerprints(project.target_db, "target")) == with_rows(fingerprints(source_db, "source"))
    again = project.deploy()
    assert again.code == 0 and again.changed() == [], again.output[-2500:]


NOT_VALID_DDL = """
CREATE TABLE parent (id int PRIMARY KEY, name text);
CREATE TABLE orphans (id bigint PRIMARY KEY, parent_id int, score int, body text);
ALTER TABLE orphans ADD CONSTRAINT orphans_parent_fk FOREIGN KEY (parent_id) REFERENCES parent NOT VALID;
ALTER TABLE orphans ADD CONSTRAINT orphans_score_check CHECK (score >= 0) NOT VALID;
CREATE TABLE clean (id bigint PRIMARY KEY, parent_id int, body text);
ALTER TABLE clean ADD CONSTRAINT clean_parent_fk FOREIGN KEY (parent_id) REFERENCES parent NOT VALID;
CREATE TABLE small (id int PRIMARY KEY, parent_id int);
ALTER TABLE small ADD CONSTRAINT small_parent_fk FOREIGN KEY (parent_id) REFERENCES parent NOT VALID;
"""
# 1% orphans and 1% rows the NOT VALID check refuses in the big one, an orphan in the small one
NOT_VALID_ROWS = """
ALTER TABLE orphans DROP CONSTRAINT orphans_parent_fk, DROP CONSTRAINT orphans_score_check;
ALTER TABLE small DROP CONSTRAINT small_parent_fk;
INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, 100) g;
INSERT INTO orphans SELECT g, CASE WHEN g % 100 = 0 THEN 1000 + g ELSE 1 + g % 100 END,
       CASE WHEN g % 100 = 1 THEN -1 ELSE g END, repeat(md5(g::text), 3) FROM generate_series(1, 30000) g;
INSERT INTO clean SELECT g, 1 + g % 100, repeat(md5(g::text), 3) FROM generate_series(1, 30000) g;
INSERT INTO small VALUES (1, 1), (2, 5000);
ALTER TABLE orphans ADD CONSTRAINT orphans_parent_fk FOREIGN KEY (parent_id) REFERENCES parent NOT VALID;
ALTER TABLE orphans ADD CONSTRAINT orphans_score_check CHECK (score >= 0) NOT VALID;
ALTER TABLE small ADD CONSTRAINT small_parent_fk FOREIGN KEY (parent_id) REFERENCES parent NOT VALID;
"""


def test_not_valid_keys_and_checks_come_back_not_valid_and_source_rows_they_refuse_are_copied(project, source_db):
    """Finding 1: a NOT VALID key in the migrations failed every run: with orphans in the source "the
    target refused the source's rows ... rolled back" (they were committed), without them the rebuild
    validated it (drift). The keys and the check are now as the migrations have them, NOT VALID, and
    every row is copied."""
    expected = prepared(project, source_db, NOT_VALID_DDL, NOT_VALID_ROWS)
    done = project.deploy()
    assert done.code == 0, done.output[-2500:]
    assert schema_dump(project.target_db) == expected
    assert with_rows(fingerprints(project.target_db, "target")) == with_rows(fingerprints(source_db, "source"))
    assert query(project.target_db, "SELECT conname FROM pg_constraint WHERE NOT convalidated ORDER BY 1") == [
        ("clean_parent_fk",), ("orphans_parent_fk",), ("orphans_score_check",), ("small_parent_fk",)]
    assert project.deploy().code == 0


METADATA_DDL = DDL + """
CREATE INDEX big_expr ON big ((v + 1)) WITH (fillfactor = 70);
ALTER INDEX big_expr ALTER COLUMN 1 SET STATISTICS 500;
COMMENT ON INDEX big_parent IS 'parent lookups';
COMMENT ON CONSTRAINT big_parent_id_fkey ON big IS 'every big row has a parent';
CLUSTER big USING big_v;
CREATE INDEX paged_body ON paged (body) WITH (fillfactor = 50);
ALTER TABLE paged ADD COLUMN k int;
CREATE TABLE deferred (id bigint PRIMARY KEY, parent_id int, body text);
ALTER TABLE deferred ADD CONSTRAINT deferred_fk FOREIGN KEY (parent_id) REFERENCES parent DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX deferred_parent ON deferred (parent_id);
"""
METADATA_ROWS = ROWS.format(big=30000, paged=15000) + """
INSERT INTO deferred SELECT g, 1 + g % 200, repeat(md5(g::text), 3) FROM generate_series(1, 30000) g;
"""


def test_a_rebuild_keeps_what_pg_dump_shows_of_indexes_and_keys(project, source_db):
    """Finding 2: rebuilt indexes and keys lost their comments, statistics targets and CLUSTER ON, and
    the run said converged. The target's pg_dump --schema-only is now the migrations'."""
    expected = prepared(project, source_db, METADATA_DDL, METADATA_ROWS)
    done = project.deploy()
    assert done.code == 0, done.output[-2500:]
    assert schema_dump(project.target_db) == expected
    assert with_rows(fingerprints(project.target_db, "target")) == with_rows(fingerprints(source_db, "source"))


def test_a_row_the_application_writes_during_a_ranged_copy_is_refused_once_and_the_rest_finishes(project, source_db):
    """Finding 4: one row written into the target mid-copy of a table copied in ranges left every
    rerun failing the same way ("... kept", "run again"), the other tables and the set-aside indexes
    never done. The run now refuses that table in one line naming it and the counts; every other
    table is copied and nothing stays set aside. The next run refuses it before any change (no endless
    "run again"), and once the row is deleted the copy converges."""
    expected = prepared(project, source_db, rows=ROWS.format(big=30000, paged=40000))
    process = project.start()
    with admin("target", project.target_db) as conn:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline and phase(conn) != "load":
            time.sleep(0.002)
        conn.execute("INSERT INTO paged VALUES ('app-row', NULL, 424242)")
    _out, err = process.communicate(timeout=180)
    assert process.returncode != 0, err[-2500:]
    lines = [line for line in err.splitlines() if line.lstrip().startswith("[@local] pgconverge:")]
    assert len(lines) == 1 and "public.paged" in lines[0], err[-2500:]
    assert query(project.target_db, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgconverge'") == [(0,)]
    source, target = fingerprints(source_db, "source"), fingerprints(project.target_db, "target")
    others = {t: v for t, v in source.items() if t != "public.paged"}
    assert {t: v for t, v in target.items() if t != "public.paged"} == others
    assert target["public.paged"][0] == source["public.paged"][0] + 1
    again = project.deploy()
    assert again.code != 0 and query(project.target_db, "SELECT count(*) FROM paged")[0][0] == target["public.paged"][0]
    query(project.target_db, "DELETE FROM paged WHERE n = 424242")
    finished = project.deploy()
    assert finished.code == 0, finished.output[-2500:]
    assert schema_dump(project.target_db) == expected
    assert with_rows(fingerprints(project.target_db, "target")) == with_rows(fingerprints(source_db, "source"))


def test_a_skewed_key_is_cut_into_ranges_of_about_as_many_rows(source_db):
    """Finding 5: ids 1..200000, then 1e12.. and the bigint edges were cut into equal slices of key
    space, one holding 99.7% of the rows. Ranges are now cut at the key's row quantiles."""
    from psycopg import sql

    from tasks.data import ranges

    query(source_db, "CREATE TABLE skew (id bigint PRIMARY KEY, body text); "
                     "INSERT INTO skew SELECT g, md5(g::text) FROM generate_series(1, 200000) g; "
                     "INSERT INTO skew SELECT 1e12::bigint + g * 1e8::bigint, 'x' FROM generate_series(1, 20000) g; "
                     "INSERT INTO skew VALUES (-9223372036854775808, 'min'), (9223372036854775807, 'max')",
          which="source")
    with admin("source", source_db) as conn:
        found = ranges.plan(conn, "public.skew", 10 << 20, 1 << 20)
        rows = [conn.execute(sql.SQL("SELECT count(*) FROM skew t WHERE {}").format(ranges.predicate(r))).fetchone()[0]
                for r in found]
    assert len(found) == 10 and sum(rows) == 220002, rows
    assert max(rows) < 0.2 * 220002, rows


TOAST_DDL = """
CREATE TABLE toasty (id int PRIMARY KEY, doc text, tags text[]);
CREATE INDEX toasty_tags ON toasty USING gin (tags);
"""
# little heap, much TOAST (random text does not compress)
TOAST_ROWS = """
INSERT INTO toasty SELECT g, (SELECT string_agg(md5(g::text || k::text), '') FROM generate_series(1, 200) k),
       ARRAY['t' || g % 10] FROM generate_series(1, 2000) g;
"""


def test_a_table_mostly_toast_is_sized_with_its_toast(project, source_db):
    """Finding 5: a table of 13 MB on disk but an 832 kB heap was not split (its size was its heap's)."""
    from tests.integration.test_copy_limit import COPIED_INTO, StatementLog

    prepared(project, source_db, TOAST_DDL, TOAST_ROWS)
    assert query(source_db, "SELECT pg_relation_size('toasty') < 1048576 AND pg_table_size('toasty') > 4194304",
                 which="source") == [(True,)]
    log = StatementLog("target", project.target_db)
    done = project.deploy()
    assert done.code == 0, done.output[-2500:]
    assert log.count(COPIED_INTO)["public.toasty"] > 1
    assert with_rows(fingerprints(project.target_db, "target")) == with_rows(fingerprints(source_db, "source"))


PARTITIONED_DDL = DDL + """
CREATE TABLE big_part (id bigint, body text, PRIMARY KEY (id)) PARTITION BY RANGE (id);
CREATE TABLE big_part_1 PARTITION OF big_part FOR VALUES FROM (0) TO (20000);
CREATE TABLE big_part_2 PARTITION OF big_part FOR VALUES FROM (20000) TO (40000);
"""
PARTITIONED_ROWS = ROWS.format(big=30000, paged=15000) + """
INSERT INTO big_part SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 39999) g;
"""
ANALYSED = """
SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL
   AND relname IN ('big', 'paged', 'big_part', 'big_part_1', 'big_part_2') ORDER BY 1
"""
# by the copy, or by autovacuum meanwhile (which never analyses a partitioned parent)
ANALYSED_BY_ANYONE = ANALYSED.replace(
    "last_analyze IS NOT NULL", "coalesce(last_analyze, last_autoanalyze) IS NOT NULL"
)


def test_the_rerun_after_a_kill_in_the_rebuild_analyses_the_tables_and_their_partitioned_parent(project, source_db):
    """Finding 6 (minor): after a kill during the rebuild, the rerun copied 0 tables and analysed none,
    and the partitioned parent was never analysed. An application's lock on big holds the rebuild
    (taken once big's indexes are set aside) until the kill. Autovacuum then analyses the partitions
    (the test does it, as autovacuum did in a CI run): it never analyses their partitioned parent, which
    the rerun still must."""
    import psycopg

    import sandbox

    prepared(project, source_db, PARTITIONED_DDL, PARTITIONED_ROWS)
    process = project.start()
    app = None
    try:
        with admin("target", project.target_db) as conn:
            deadline = time.monotonic() + 120
            while process.poll() is None and time.monotonic() < deadline and phase(conn) != "rebuild":
                if app is None and phase(conn) == "load" and conn.execute(
                        "SELECT EXISTS (SELECT FROM pgconverge.copy_set_aside WHERE tbl = 'public.big')").fetchone()[0]:
                    app = psycopg.connect(sandbox.admin_conninfo("target", project.target_db), autocommit=True)
                    app.execute("BEGIN; LOCK TABLE big IN ROW EXCLUSIVE MODE")
                time.sleep(0.002)
            time.sleep(0.5)
            kill(process, project.target_db)
            assert phase(conn) == "rebuild"
    finally:
        if app is not None:
            app.close()
    assert query(project.target_db, ANALYSED) == []
    query(project.target_db, "ANALYZE big_part_1, big_part_2")  # what autovacuum may do meanwhile
    rerun = project.deploy()
    assert rerun.code == 0, rerun.output[-2500:]
    everything = [("big",), ("big_part",), ("big_part_1",), ("big_part_2",), ("paged",)]
    # a session's statistics reach pg_stat_user_tables when its backend ends, which may be just after
    # the deploy's own exit on a loaded machine: read them again for a few seconds
    deadline = time.monotonic() + 10
    while query(project.target_db, ANALYSED_BY_ANYONE) != everything and time.monotonic() < deadline:
        time.sleep(0.2)
    assert query(project.target_db, ANALYSED_BY_ANYONE) == everything, rerun.output[-2500:]


def test_a_unique_index_the_sources_rows_break_is_blamed_on_them_and_the_way_forward_finishes(project, source_db):
    """Adversary pass 5, finding 2: a migration's unique index that the source's rows break (the risk gate
    saw an empty target) failed at the put-back with a line blaming the application, which wrote
    nothing. The line now names the source's rows (the wording is the subject here); fixing them there
    and reloading with COPY_CONFLICT=replace, as it says, finishes with the index in place."""
    expected = prepared(project, source_db)
    text = "CREATE UNIQUE INDEX big_v_uq ON big (v);\n"
    project.write_migration("953_unique_v.sql", text)
    broken = project.deploy()
    assert broken.code != 0, broken.output[-2500:]
    line = [ln for ln in broken.output.splitlines() if "big_v_uq" in ln and "source's own rows" in ln]
    assert line and "application" not in line[0].split("source's own rows")[0], broken.output[-2500:]
    query(source_db, "ALTER TABLE big DISABLE TRIGGER big_always; UPDATE big SET v = id; "  # its trigger sets v
                     "ALTER TABLE big ENABLE ALWAYS TRIGGER big_always", which="source")
    fixed = project.deploy(COPY_CONFLICT="replace")
    assert fixed.code == 0, fixed.output[-2500:]
    assert schema_dump(project.target_db) == migrated(expected, text)
    assert with_rows(fingerprints(project.target_db, "target")) == with_rows(fingerprints(source_db, "source"))
