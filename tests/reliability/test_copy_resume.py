"""
Issue 30, resumable inside a table: a copy killed once some ranges of a big table are verified, then
the source changes before the rerun (rows of a verified range changed, every row deleted, the table
dropped). Every rerun finishes the table to the source's rows of its own moment, whatever they are,
or refuses in one line; never "complete" with rows that match no moment of the source. Through the
real pyinfra CLI between the sandbox's two real clusters (source PostgreSQL 15, target 17, an owner
that is not a superuser); PostgreSQL is the oracle: every table's rows against the source's and the
target's ``pg_dump --schema-only`` against that of a database the migrations built (a fresh run).
"""

from __future__ import annotations

import time

import pytest

from tests.copy_support import copy_phase as phase
from tests.copy_support import fingerprints, with_rows
from tests.reliability.test_copy_adversary import migrated, prepared
from tests.reliability.test_copy_kills import kill, schema_dump
from tests.support import admin, query

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

# wide has no integer key: it is copied in page (ctid) ranges; tiny (small, it keeps its keys while
# it loads) has a foreign key on wide's unique index, which therefore stays in place; keyed is copied
# in ranges of its integer key. tiny2, like tiny but empty in the source, is the application's alone.
DDL = """
CREATE TABLE wide (k text, n int, body text, PRIMARY KEY (k, n));
CREATE UNIQUE INDEX wide_nk ON wide (n, k);
CREATE TABLE tiny (id int PRIMARY KEY, k text, n int, FOREIGN KEY (n, k) REFERENCES wide (n, k));
CREATE TABLE tiny2 (id int PRIMARY KEY, k text, n int, FOREIGN KEY (n, k) REFERENCES wide (n, k));
CREATE TABLE keyed (id bigint PRIMARY KEY, body text);
"""
ROWS = """
INSERT INTO wide SELECT 'k' || g, g, repeat(md5(g::text), 3) FROM generate_series(1, 60000) g;
INSERT INTO tiny SELECT g, 'k' || g, g FROM generate_series(1, 20) g;
INSERT INTO keyed SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 60000) g;
"""
RANGES = "SELECT count(*), count(*) FILTER (WHERE done) FROM pgconverge.copy_ranges WHERE tbl = %s"


def killed_with_ranges_done(project, table: str) -> list[tuple]:
    """Start a copy and kill it once some (not all) ranges of ``table`` are verified: their (lo, hi)."""
    process = project.start()
    with admin("target", project.target_db) as conn:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            if phase(conn) == "load" and conn.execute(RANGES, (table,)).fetchone()[1]:
                break
            time.sleep(0.002)
        kill(process, project.target_db)
        total, done = conn.execute(RANGES, (table,)).fetchone()
        assert 0 < done < total, (total, done)
        return conn.execute("SELECT lo, hi FROM pgconverge.copy_ranges WHERE done AND tbl = %s", (table,)).fetchall()


def finished(project, source_db: str, expected: str) -> None:
    assert schema_dump(project.target_db) == expected
    assert with_rows(fingerprints(project.target_db, "target")) == with_rows(fingerprints(source_db, "source"))
    assert query(project.target_db, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgconverge'") == [(0,)]
    again = project.deploy()
    assert again.code == 0 and again.operations()["Data copied"] == "no_change", again.output[-2500:]


def change_a_done_range(source_db: str, done: list[tuple]) -> None:
    lo, hi = done[0]
    query(source_db, f"UPDATE wide SET body = 'changed' WHERE ctid >= '({lo or 0},0)'"
                     + (f" AND ctid < '({hi},0)'" if hi is not None else ""), which="source")


@pytest.mark.parametrize("replace", [False, True], ids=["default", "replace"])
def test_a_verified_page_range_changed_in_the_source_is_copied_again_under_a_foreign_key(project, source_db, replace):
    """Finding 1: wide's page ranges, some verified before a kill, one of them changed in the source:
    every rerun failed ("cannot truncate a table referenced in a foreign key constraint": tiny's key
    rests on wide). The rerun now empties wide (DELETE: tiny, loaded after it, has no rows yet) and
    copies it again, with or without COPY_CONFLICT=replace; tiny's rows and foreign key are there."""
    expected = prepared(project, source_db, DDL, ROWS)
    done = killed_with_ranges_done(project, "public.wide")
    change_a_done_range(source_db, done)
    rerun = project.deploy(**({"COPY_CONFLICT": "replace"} if replace else {}))
    assert rerun.code == 0, rerun.output[-2500:]
    assert query(project.target_db, "SELECT count(*) FROM tiny") == [(20,)]
    finished(project, source_db, expected)


def refused_leaving_the_target_as_it_is(project, named: tuple[str, ...], **settings: str) -> None:
    """A rerun (with ``settings``) fails with a line naming all of ``named``, and changes no row."""
    before = fingerprints(project.target_db, "target")
    refused = project.deploy(**settings)
    lines = [line for line in refused.output.splitlines() if all(name in line for name in named)]
    assert refused.code != 0 and lines and "Traceback" not in refused.output, refused.output[-2500:]
    assert fingerprints(project.target_db, "target") == before


APP_ROWS = {
    # the application wrote rows of tiny and tiny2 in the target meanwhile, pointing at wide's copied rows:
    # the rerun names the three tables in one line (pass 4: one child a run), even with
    # COPY_CONFLICT=replace (tiny differs), and cascades nothing
    "pointing at it": (("INSERT INTO tiny SELECT 999, k, n FROM wide LIMIT 1; "
                        "INSERT INTO tiny2 SELECT 1, k, n FROM wide LIMIT 1"),
                       ("public.tiny,", "public.tiny2", "public.wide"),
                       "DELETE FROM tiny WHERE id = 999; DELETE FROM tiny2", {"COPY_CONFLICT": "replace"}),
    # a row the application wrote into wide (half-copied) itself: emptying wide would take it too; it was
    # refused for ever once deleted (the journal still counted the rows deleted)
    # (with COPY_CONFLICT=replace the half-copied table is reloaded whole: test_copy_strands.py)
    "in it": ("INSERT INTO wide VALUES ('app', -1, 'written by the application')", ("Data copied", "public.wide"),
              "DELETE FROM wide", {}),
}


@pytest.mark.parametrize("case", sorted(APP_ROWS))
def test_an_application_row_in_the_way_of_a_range_copied_again_is_refused_until_deleted(project, source_db, case):
    """Finding 1, the way forward: a verified range of wide changed in the source, and an application's
    row in the target stands in the way of copying it again. The rerun refuses in one line naming it
    and changes nothing; once the row is deleted, as the line says, a rerun finishes."""
    write, named, fix, settings = APP_ROWS[case]
    expected = prepared(project, source_db, DDL, ROWS)
    done = killed_with_ranges_done(project, "public.wide")
    change_a_done_range(source_db, done)
    query(project.target_db, write)
    refused_leaving_the_target_as_it_is(project, named, **settings)
    query(project.target_db, fix)
    rerun = project.deploy()
    assert rerun.code == 0, rerun.output[-2500:]
    finished(project, source_db, expected)


@pytest.mark.parametrize("table", ["wide", "keyed"])
def test_a_half_copied_table_emptied_in_the_source_is_emptied_in_the_target(project, source_db, table):
    """Finding 6: killed with some ranges verified, then every row deleted in the source: the rerun
    exited 0 "complete" with the ranges' rows, which match no moment of the source. It now deletes
    them (page ranges and key ranges), the journal's ranges are forgotten, and the check sees the
    table equal."""
    expected = prepared(project, source_db, DDL, ROWS)
    killed_with_ranges_done(project, f"public.{table}")
    query(source_db, f"DELETE FROM tiny; DELETE FROM {table}", which="source")
    rerun = project.deploy()
    assert rerun.code == 0, rerun.output[-2500:]
    assert query(project.target_db, f"SELECT count(*) FROM {table}") == [(0,)]
    finished(project, source_db, expected)


@pytest.mark.parametrize("migrated", [True, False], ids=["dropped-in-target", "kept-in-target"])
def test_a_half_copied_table_dropped_from_the_source(project, source_db, migrated):
    """Finding 6, the table dropped: killed with some of keyed's ranges verified, then keyed dropped
    in the source (and by a migration in the target, or not): the rerun ends with every table equal
    to the source, keyed gone or empty (not the ranges' rows) and nothing of it left in the journal."""
    prepared(project, source_db, DDL, ROWS)
    killed_with_ranges_done(project, "public.keyed")
    query(source_db, "DROP TABLE keyed", which="source")
    rerun = project.deploy()  # the migration waits until the copy is finished (what was set aside is back)
    assert rerun.code == 0, rerun.output[-2500:]
    if migrated:
        project.write_migration("901_drop_keyed.sql", "DROP TABLE keyed;")
        rerun = project.deploy()
        assert rerun.code == 0, rerun.output[-2500:]
    left = [] if migrated else [(0,)]
    assert query(project.target_db, "SELECT count(*) FROM keyed" if left else "SELECT to_regclass('keyed')") == (
        left or [(None,)])
    assert with_rows(fingerprints(project.target_db, "target")) == with_rows(fingerprints(source_db, "source"))
    assert query(project.target_db, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgconverge'") == [(0,)]
    again = project.deploy()
    assert again.code == 0 and again.operations()["Data copied"] == "no_change", again.output[-2500:]


SOURCE_FIRST = {
    # pass 5, finding 1: the journal named the old table; every rerun refused it as "not empty and differs"
    "renamed": "ALTER TABLE keyed RENAME TO keyed2;\n",
    # pass 5, finding 3: refused before the backup as a table "that holds 1 row(s)" whose rows would differ
    "column with a default": "ALTER TABLE keyed ADD COLUMN extra int DEFAULT 7;\n",
}


@pytest.mark.parametrize("case", sorted(SOURCE_FIRST))
def test_a_half_copied_table_changed_in_the_source_first_and_by_its_migration_is_finished(project, source_db, case):
    """Adversary pass 5: killed with some of keyed's ranges verified, then keyed changed in the source first
    and by the same migration (renamed; a column with a default added). The rerun puts back what was set
    aside, applies the file, and finishes keyed to the source's rows under its schema of now (the
    journal follows a renamed table by its oid); the target's schema is the migrations' (PostgreSQL's,
    with the file applied) and a rerun changes nothing."""
    text = SOURCE_FIRST[case]
    expected = prepared(project, source_db, DDL, ROWS)
    killed_with_ranges_done(project, "public.keyed")
    query(source_db, text, which="source")
    project.write_migration("901_source_first.sql", text)
    rerun = project.deploy()
    assert rerun.code == 0, rerun.output[-2500:]
    finished(project, source_db, migrated(expected, text))
