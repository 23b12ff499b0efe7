"""
The tool's own reads (the facts session, :mod:`tasks.core.sessions`) set their own limits (issue 29
class 3): a role-level ``statement_timeout`` (a production guard) does not cancel them, and an
application's open transaction holding a table's lock (a second session, ``ALTER TABLE`` left open)
makes a read wait a bounded time, retried, then fail in one line naming that session, instead of
waiting silently without limit.
"""

from __future__ import annotations

import time
from datetime import datetime

import psycopg
import pytest

from tasks.core import sessions, waits
from tests.support import admin

pytestmark = pytest.mark.cluster


def test_a_role_level_statement_timeout_does_not_cancel_the_tools_reads(services):
    with psycopg.connect(services.target_url, autocommit=True) as conn:
        role = conn.execute("SELECT current_user").fetchone()[0]
    with admin("target", services.target_db) as conn:
        conn.execute(f'ALTER ROLE "{role}" IN DATABASE "{services.target_db}" SET statement_timeout = \'100ms\'')
    try:
        one = sessions.Session("target")
        assert one.rows("SELECT pg_sleep(0.3), 1") == [["", "1"]]
        one.close()
    finally:
        with admin("target", services.target_db) as conn:
            conn.execute(f'ALTER ROLE "{role}" IN DATABASE "{services.target_db}" RESET statement_timeout')


def test_an_application_lock_bounds_the_read_and_names_the_session(services, monkeypatch):
    monkeypatch.setattr(waits, "FIRST_PAUSE_S", 0.1)
    with psycopg.connect(services.target_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE rooms (id int)")
    app = psycopg.connect(services.target_url, autocommit=False)
    pid = app.info.backend_pid
    try:
        app.execute("SET application_name = 'the-app'")
        app.execute("ALTER TABLE rooms ADD COLUMN tmpcol int")  # left open: AccessExclusive on rooms
        one = sessions.Session("target")
        started = time.monotonic()
        with pytest.raises(waits.LockWaitError) as failed:
            one.rows("SELECT count(*) FROM rooms")
        took = time.monotonic() - started
        one.close()
    finally:
        app.rollback()
        app.close()
    assert took < 30, took
    assert f'pid {pid} (application_name "the-app"' in str(failed.value)


def test_the_statements_of_one_read_see_one_snapshot(services):
    """A concurrent deploy (four at once, tests/integration/test_crash_and_concurrency.py) committed its
    history table and first file between the two statements of the history fact: the other read "no
    history" and then "1 table", and refused the target as one to adopt. Here a second session commits a
    row while the read's second statement sleeps: the third statement sees what the first saw."""
    import threading

    with psycopg.connect(services.target_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE rooms (id int)")
    one = sessions.Session("target")
    one.rows("SELECT 1")  # connected before the race

    def commit_a_row() -> None:
        time.sleep(0.3)
        with psycopg.connect(services.target_url, autocommit=True) as conn:
            conn.execute("INSERT INTO rooms VALUES (1)")
            committed.append(conn.execute("SELECT clock_timestamp()").fetchone()[0])

    committed: list = []
    writer = threading.Thread(target=commit_a_row)
    writer.start()
    rows = one.rows(
        "SELECT count(*), clock_timestamp()::text FROM rooms; SELECT pg_sleep(1.5)::text, ''; "
        "SELECT count(*), clock_timestamp()::text FROM rooms"
    )
    writer.join()
    one.close()
    first, _, third = rows
    # the race took place: the row was committed after the first statement and before the third
    assert datetime.fromisoformat(first[1]) < committed[0] < datetime.fromisoformat(third[1]), (rows, committed)
    assert first[0] == third[0] == "0", rows
