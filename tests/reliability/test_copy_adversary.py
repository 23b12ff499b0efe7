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
from tests.support import admin, query

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
