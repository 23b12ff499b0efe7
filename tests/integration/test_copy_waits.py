"""
The copy's waits have a limit and the application keeps working (issue 29 class 3), against the
sandbox's real clusters, with a second session of the target's own role playing the application:

* the application's open transaction holds ``users`` (an UPDATE not yet committed): the copy's
  ``ALTER TABLE … DISABLE TRIGGER`` waits a bounded time, again a few times, then fails in one line
  naming that session; an application statement started meanwhile completes within seconds;
* when the application commits during the retries, the copy goes through;
* a role-level ``statement_timeout`` (a production guard) does not cancel the copy's own statements.
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from tasks.core.connections import conninfo
from tasks.data.copy import CopyError, copy_data
from tasks.migrations.engine import apply_migrations
from tasks.migrations.files import read_migrations
from tasks.migrations.session import Limits
from tests.copy_support import fingerprints
from tests.support import MIGRATIONS, query

pytestmark = pytest.mark.cluster


@pytest.fixture
def schema_on_target(services):
    """The app's schema on the target (by the migration engine, as the deploy would have done)."""
    apply_migrations(conninfo("target"), read_migrations(MIGRATIONS), None, Limits())
    return services


def app_in_transaction(project) -> psycopg.Connection:
    """The application: an UPDATE of users, not committed (idle in transaction, ROW EXCLUSIVE held)."""
    app = psycopg.connect(project.target_url)
    app.execute("SET application_name = 'the-app'")
    app.execute("UPDATE users SET display_name = display_name WHERE id = -1")
    return app


def waiting_copy(project) -> None:
    deadline = time.monotonic() + 60
    text = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'"
    while query("postgres", text, (project.target_db,))[0][0] == 0:
        assert time.monotonic() < deadline, "the copy never waited"
        time.sleep(0.05)


def timed_write(project) -> float:
    """Another application statement (a write on users) started while the copy waits."""
    started = time.monotonic()
    with psycopg.connect(project.target_url, autocommit=True) as conn:
        conn.execute("SET statement_timeout = '10s'")
        try:
            conn.execute("UPDATE users SET display_name = display_name WHERE id = -2")
        except psycopg.errors.QueryCanceled:
            return 10.0
    return time.monotonic() - started


def run_copy(said: list[str], result: dict) -> None:
    try:
        result["plan"] = copy_data("source", "target", False, said.append)
    except Exception as exc:  # noqa: BLE001 - the test reads it
        result["error"] = exc


def test_a_lock_the_app_keeps_makes_the_copy_fail_naming_it_and_the_app_keeps_working(schema_on_target):
    project = schema_on_target
    app = app_in_transaction(project)
    said: list[str] = []
    result: dict = {}
    try:
        copying = threading.Thread(target=run_copy, args=(said, result))
        copying.start()
        waiting_copy(project)
        took = timed_write(project)
        copying.join(120)
        assert not copying.is_alive(), "the copy waited without limit"
        assert took < 4, took
        error = result.get("error")
        assert isinstance(error, CopyError), (result, said)
        text = str(error)
        assert "waited 4 times 2s for a lock held by pid" in text and 'application_name "the-app"' in text
        assert f"pid {app.info.backend_pid} " in text and "idle in transaction for" in text
        assert "\n" not in text and "disk" not in text
        assert any("retrying in 1s" in line for line in said)
    finally:
        app.close()


def test_when_the_app_commits_during_the_retries_the_copy_goes_through(schema_on_target, source_db):
    project = schema_on_target
    app = app_in_transaction(project)
    said: list[str] = []
    result: dict = {}
    copying = threading.Thread(target=run_copy, args=(said, result))
    copying.start()
    waiting_copy(project)
    time.sleep(3.5)  # past the first try's 2 s: the copy is in its retries
    app.commit()
    app.close()
    copying.join(120)
    assert "error" not in result, result
    assert any("retrying" in line for line in said)
    assert fingerprints(project.target_db, "target") == fingerprints(source_db, "source")
    said.clear()
    again = copy_data("source", "target", False, said.append)  # twice: nothing left to copy
    assert not again.copy and not again.replace


def test_a_role_level_statement_timeout_does_not_cancel_the_copy(schema_on_target, source_db):
    project = schema_on_target
    query(source_db, "INSERT INTO messages (room_id, user_id, body) SELECT 1 + g % 5, 1 + g % 50, "
                     "repeat(md5(g::text), 8) FROM generate_series(1, 150000) g", which="source")
    role = query(project.target_db,
                 "SELECT datdba::regrole::text FROM pg_database WHERE datname = current_database()")[0][0]
    query(project.target_db, f"ALTER ROLE {role} IN DATABASE {project.target_db} SET statement_timeout = '150ms'")
    said: list[str] = []
    copy_data("source", "target", False, said.append)
    assert fingerprints(project.target_db, "target") == fingerprints(source_db, "source")
