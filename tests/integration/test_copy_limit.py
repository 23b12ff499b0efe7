"""
The copy at the physical limit (issue 30), through the real pyinfra CLI between the sandbox's two
real clusters: no table's checksum is computed twice in one run (counted in the servers' own
statement logs), a table larger than ``COPY_SPLIT_MB`` is copied in ranges by every job inside one
snapshot, a rerun after a kill does not copy again the ranges already verified, and a long copy
prints its progress.
"""

from __future__ import annotations

import re
import threading
import time

import psycopg
import pytest

from sandbox.paths import log_file
from tests.copy_support import fingerprints, same_schema, with_rows
from tests.support import admin, query, table_fingerprints

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

CHECKSUMMED = re.compile(r"SELECT '([^']+)'::text, count\(\*\), coalesce\(sum\(hash_record_extended")


class StatementLog:
    """Every statement the server runs in one database, from its log (``log_statement = 'all'``)."""

    def count(self, pattern: str) -> dict[str, int]:
        """How many statements since the last call match ``pattern`` (its group is the key)."""
        found: dict[str, int] = {}
        for entry in self.entries():
            for key in re.findall(pattern, entry):
                found[key] = found.get(key, 0) + 1
        return found

    def entries(self) -> list[str]:
        with open(log_file(self.which), "rb") as handle:
            handle.seek(self.start)
            text = handle.read().decode(errors="replace")
        self.start += len(text.encode())
        # a statement's lines follow its prefixed first line; keep those of this database only
        return [e for e in re.split(r"\n(?=\d{4}-\d\d-\d\d )", text) if f"@{self.dbname} " in e.split("\n", 1)[0]]

    def __init__(self, which: str, dbname: str):
        self.which, self.dbname = which, dbname
        with admin(which, dbname) as conn:
            conn.execute(f'ALTER DATABASE "{dbname}" SET log_statement = \'all\'')
        self.start = log_file(which).stat().st_size

    def checksums(self) -> dict[str, int]:
        """How many times each table's checksum was computed since the last call."""
        return self.count(CHECKSUMMED.pattern)


def test_no_table_checksum_is_computed_twice_in_one_run(project, source_db):
    """Issue 30: a table already in sync had its source checksum computed twice in one run."""
    project.extra["DATA_MIGRATION"] = "copy"
    project.seeds = project.tmp / "no-seed"
    logs = StatementLog("source", source_db), StatementLog("target", project.target_db)
    first = project.deploy()
    assert first.code == 0, first.output[-2500:]
    copied = [log.checksums() for log in logs]
    assert copied[0] and all(count == 1 for count in copied[0].values()), copied[0]
    assert all(count == 1 for count in copied[1].values()), copied[1]
    second = project.deploy()
    assert second.code == 0 and second.operations()["Data copied"] == "no_change", second.output[-2500:]
    again = [log.checksums() for log in logs]
    assert again[0] and all(count == 1 for count in again[0].values()), again[0]
    assert all(count == 1 for count in again[1].values()), again[1]
    assert table_fingerprints(project.target_db, "target") == table_fingerprints(source_db, "source")


BIG_DDL = """
CREATE TABLE big (id bigint PRIMARY KEY, v int NOT NULL DEFAULT 0, body text);
CREATE INDEX big_v ON big (v);
CREATE TABLE ledger (k int PRIMARY KEY);
CREATE TABLE paged (body text, n int);
CREATE INDEX paged_n ON paged (n);
"""
BIG_ROWS = """
INSERT INTO big SELECT g, 0, repeat(md5(g::text), 3) FROM generate_series(1, 30000) g;
INSERT INTO paged SELECT repeat(md5(g::text), 3), -g FROM generate_series(1, 30000) g;
"""
COPIED_INTO = r"COPY (public\.\w+) .*FROM STDIN"


def big_tables(project, source_db) -> StatementLog:
    project.extra.update(DATA_MIGRATION="copy", COPY_JOBS="2", COPY_SPLIT_MB="1")
    project.seeds = project.tmp / "no-seed"
    same_schema(project, source_db, BIG_DDL)
    query(source_db, BIG_ROWS, which="source")
    return StatementLog("target", project.target_db)


def test_a_table_over_copy_split_mb_is_copied_in_ranges_equal_to_the_source(project, source_db):
    """Issue 30: one big table was copied by one job while the other was idle."""
    log = big_tables(project, source_db)
    done = project.deploy()
    assert done.code == 0, done.output[-2500:]
    copies = log.count(COPIED_INTO)
    assert copies["public.big"] > 1 and copies["public.paged"] > 1, copies  # a key, and pages
    assert with_rows(fingerprints(project.target_db, "target")) == with_rows(fingerprints(source_db, "source"))
    assert query(project.target_db, "SELECT count(*) FROM pg_indexes WHERE indexname IN ('big_v', 'paged_n')") == [(2,)]
    assert query(project.target_db, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgconverge'") == [(0,)]
    assert project.deploy().operations()["Data copied"] == "no_change"


def test_an_application_writing_during_a_ranged_copy_leaves_one_moment_of_the_source(project, source_db):
    """Every range and every table is read in one snapshot: rows written by one application transaction
    (an update somewhere in the big table, a row in the ledger and one at the end of the paged table)
    are all in the target, or none."""
    big_tables(project, source_db)
    stop = threading.Event()

    def application() -> None:
        with admin("source", source_db) as conn:
            k = 0
            while not stop.is_set():
                k += 1
                with conn.transaction():
                    conn.execute("UPDATE big SET v = %s WHERE id = %s", (k, 1 + (k * 7919) % 30000))
                    conn.execute("INSERT INTO ledger VALUES (%s)", (k,))
                    conn.execute("INSERT INTO paged VALUES ('app', %s)", (k,))

    writer = threading.Thread(target=application)
    writer.start()
    try:
        done = project.deploy()
    finally:
        stop.set()
        writer.join()
    assert done.code == 0, done.output[-2500:]
    ledger = {k for (k,) in query(project.target_db, "SELECT k FROM ledger")}
    updated = {v for (v,) in query(project.target_db, "SELECT v FROM big WHERE v <> 0")}
    appended = {n for (n,) in query(project.target_db, "SELECT n FROM paged WHERE body = 'app'")}
    assert ledger and ledger == set(range(1, max(ledger) + 1))
    assert updated == ledger - {k for k in ledger if any(
        other > k and (other * 7919) % 30000 == (k * 7919) % 30000 for other in ledger)}
    assert appended == ledger


def test_a_long_copy_prints_its_progress(project, source_db):
    """Issue 30: a copy longer than a few seconds says how far it is: tables and bytes out of the
    total, and the rate. The copy is long on any machine: an application session holds the target's
    messages in SHARE mode until the copy has waited on it for 4 s (bounded and retried), then it loads.
    The rows (~14 MB) load in well under the 3 s before the first line: the wait to set messages' indexes
    aside counts as copy time (a CI run printed nothing when it did not)."""
    query(source_db, "INSERT INTO messages (room_id, user_id, body) SELECT 1 + g % 5, 1 + g % 50, "
                     "repeat(md5(g::text), 8) FROM generate_series(1, 40000) g", which="source")
    project.seeds = project.tmp / "no-seed"
    assert project.deploy(DATA_MIGRATION="fresh").code == 0  # the schema, no rows: the copy fills it
    project.extra.update(DATA_MIGRATION="copy", COPY_JOBS="2")
    app = psycopg.connect(project.target_url, application_name="slow app", autocommit=True)
    try:
        app.execute("BEGIN")
        app.execute("LOCK TABLE messages IN SHARE MODE")
        process = project.start()
        waiting = (
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'messages'::regclass"
            " AND pid <> pg_backend_pid()"
        )
        deadline = time.monotonic() + 120
        while query(project.target_db, waiting)[0][0] == 0:  # the copy has reached messages
            assert process.poll() is None and time.monotonic() < deadline, "the copy never waited on messages"
            time.sleep(0.05)
        time.sleep(4)
        app.execute("COMMIT")
        out, err = process.communicate(timeout=180)
    finally:
        app.close()
    assert process.returncode == 0, (out + err)[-2500:]
    lines = re.findall(r"copy: (\d+)/(\d+) tables, ([\d,]+) of ([\d,]+) MB \(\d+%\), [\d.,]+ MB/s", out + err)
    assert lines, (out + err)[-2500:]
    tables, total, moved, size = lines[-1]  # the last line: every table done
    assert int(tables) == int(total) and 0 < int(moved.replace(",", "")) <= int(size.replace(",", "")), lines


def test_an_application_lock_on_a_copied_table_bounds_the_rebuild_then_a_rerun_finishes(project, source_db):
    """Issue 30: the rebuild after the load waits on an application's lock a bounded time (the
    load's lock timeout, retried), then fails in one line naming the session; nothing is lost, and a
    rerun once the session ended finishes the copy."""
    from tests.copy_support import copy_phase

    big_tables(project, source_db)
    process = project.start()
    app = None
    try:
        with admin("target", project.target_db) as conn:
            while process.poll() is None and app is None:
                if copy_phase(conn) == "load":  # the indexes are set aside: the load goes on, the rebuild waits
                    app = psycopg.connect(project.target_url, application_name="blocker", autocommit=True)
                    app.execute("BEGIN; LOCK TABLE big IN ROW EXCLUSIVE MODE")
        _out, err = process.communicate(timeout=180)
        assert app is not None and process.returncode != 0, err[-2500:]
        lines = [line for line in err.splitlines() if "pgconverge:" in line]
        assert len(lines) == 1 and 'application_name "blocker"' in lines[0], err[-2500:]
        with admin("target", project.target_db) as conn:
            assert copy_phase(conn) == "rebuild"
    finally:
        if app is not None:
            app.close()
    rerun = project.deploy()
    assert rerun.code == 0, rerun.output[-2500:]
    assert with_rows(fingerprints(project.target_db, "target")) == with_rows(fingerprints(source_db, "source"))
    assert query(project.target_db, "SELECT count(*) FROM pg_indexes WHERE indexname IN ('big_v', 'paged_n')") == [(2,)]
