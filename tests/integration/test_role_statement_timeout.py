"""
The tool's own long statements outside the facts session set their own ``statement_timeout``: a
role-level ``ALTER ROLE … SET statement_timeout`` (an application's guard) cancels neither the
statistics taken after a copy (ANALYZE) nor the exact row counts a backup's record holds and a
restore is checked against (:func:`tasks.backups.dump.database_state`: Heroku's capture and restore).
Real PostgreSQL (the sandbox's target cluster, the target's owner role); no Heroku server is involved.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

import psycopg
import pytest

from tasks.backups import dump
from tasks.data import loader
from tests.support import admin

pytestmark = pytest.mark.cluster

# ANALYZE evaluates an expression index's expression for each sampled row: 40 rows of 20 ms each take
# 0.8 s, well past the role's limit below, however fast the machine.
SLOW_TABLE = """
CREATE FUNCTION slow(i int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS
$$BEGIN PERFORM pg_sleep(0.02); RETURN i; END$$;
CREATE TABLE measured (id int);
INSERT INTO measured SELECT generate_series(1, 40);
CREATE INDEX measured_slow ON measured (slow(id));
"""


@contextmanager
def role_statement_timeout(services, limit: str):
    """The target role's own ``statement_timeout`` in the test's database, as a production guard sets it."""
    with psycopg.connect(services.target_url, autocommit=True) as conn:
        role = conn.execute("SELECT current_user").fetchone()[0]
    alter = f'ALTER ROLE "{role}" IN DATABASE "{services.target_db}"'
    with admin("target", services.target_db) as conn:
        conn.execute(f"{alter} SET statement_timeout = '{limit}'")
    try:
        yield
    finally:
        with admin("target", services.target_db) as conn:
            conn.execute(f"{alter} RESET statement_timeout")


def test_the_statistics_after_a_copy_are_taken_under_a_role_statement_timeout(services):
    with psycopg.connect(services.target_url, autocommit=True) as conn:
        conn.execute(SLOW_TABLE)
    said: list[str] = []
    with role_statement_timeout(services, "200ms"):
        done = loader.analyze("target", ["public.measured"], 1, said.append)
    assert done == ["public.measured"], said
    with psycopg.connect(services.target_url, autocommit=True) as conn:
        analysed = conn.execute("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'measured'")
        assert analysed.fetchone() == (True,)


def test_a_backup_records_every_tables_row_count_under_a_role_statement_timeout(services):
    """The count of a table takes longer than the role's limit: here because an application's
    transaction holds the table for a second (a count waits for it, and a wait counts towards
    ``statement_timeout``), as a big table's count would on a real database."""
    with psycopg.connect(services.target_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE big AS SELECT g AS id FROM generate_series(1, 1000) g")
    app = psycopg.connect(services.target_url, autocommit=False)
    app.execute("LOCK TABLE big IN ACCESS EXCLUSIVE MODE")
    release = threading.Timer(1.0, app.commit)
    release.start()
    try:
        with role_statement_timeout(services, "200ms"):
            state = dump.database_state("target")
    finally:
        release.join()
        app.close()
    assert state["rows"]["public.big"] == 1000
