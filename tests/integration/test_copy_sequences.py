"""
Issue 29 class 1: a rerun of the copy never moves the target's sequences backwards. A second session
plays the application (it writes rows and calls nextval in the target between runs); PostgreSQL is
the oracle: the application's next INSERT works, pg_sequences never goes back.
"""

from __future__ import annotations

import re

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks.core.connections import conninfo
from tasks.data import copy as datacopy
from tests.support import query

pytestmark = pytest.mark.cluster

OWNER = "SET ROLE whynot_owner;"
EVENTS = "CREATE TABLE events (id serial PRIMARY KEY, what text);"


def _migrate(target_url: str) -> None:
    from tasks.migrations.engine import apply_migrations
    from tasks.migrations.files import read_migrations
    from tasks.migrations.session import Limits
    from tests.support import MIGRATIONS

    apply_migrations(target_url, read_migrations(MIGRATIONS), None, Limits())


def _app(target_db: str) -> psycopg.Connection:
    """The application's own session on the target."""
    from tests.support import admin

    conn = admin("target", target_db)
    conn.execute("SET ROLE whynot_owner")
    return conn


def _sequences(dbname: str) -> dict[str, tuple]:
    rows = query(dbname, "SELECT sequencename, last_value FROM pg_sequences ORDER BY 1")
    return dict(rows)


def test_a_rerun_with_nothing_new_leaves_the_applications_sequences_where_it_moved_them(services, source_db):
    """Old code: the rerun set events_id_seq back to its start (never called in the source) and
    messages_id_seq back to the source's value, so the app's next INSERT collided."""
    _migrate(services.target_url)
    query(source_db, EVENTS, which="source")  # empty in the source: the application fills it in the target
    query(services.target_db, OWNER + EVENTS)
    datacopy.copy_data("source", "target", False, lambda line: None)
    with _app(services.target_db) as app:
        app.execute("INSERT INTO events (what) VALUES ('signed up'), ('logged in')")
        app.execute("SELECT nextval('messages_id_seq')")  # an insert the app rolled back
    before = _sequences(services.target_db)
    for _ in range(2):  # a rerun, twice: nothing to copy, nothing changes
        done = datacopy.copy_data("source", "target", False, lambda line: None)
        assert (done.copy, done.replace, done.sequences) == ([], [], 0)
        assert _sequences(services.target_db) == before
    with _app(services.target_db) as app:  # the application's next INSERTs do not collide
        app.execute("INSERT INTO events (what) VALUES ('logged out')")
        app.execute("INSERT INTO messages (room_id, user_id, body) VALUES (1, 1, 'hi')")


def test_a_source_ahead_moves_the_target_forward_and_copied_rows_past_their_sequence(services, source_db):
    _migrate(services.target_url)
    query(source_db, EVENTS + "INSERT INTO events (id, what) VALUES (40, 'explicit id');", which="source")
    query(services.target_db, OWNER + EVENTS)
    datacopy.copy_data("source", "target", False, lambda line: None)
    # the copied row's id 40 is past the source's never-called sequence: the target moves past it
    assert query(services.target_db, "SELECT nextval('events_id_seq')")[0][0] == 41
    query(source_db, "SELECT setval('users_id_seq', 500)", which="source")
    assert datacopy.copy_data("source", "target", False, lambda line: None).sequences == 1
    assert query(services.target_db, "SELECT nextval('users_id_seq')")[0][0] == 501


def test_a_run_killed_before_its_sequences_moved_has_them_moved_by_the_rerun(services, source_db):
    """Adversary pass 2 on issue 30, finding 3: a copy killed after its rows were in (while it put its
    keys back, or just before the sequences) left the target's sequence behind the copied rows; the
    rerun copied no table and so moved no sequence, while the dry run kept listing the move, and the
    application's next INSERT collided. The target's sequence at its start stands for that kill."""
    _migrate(services.target_url)
    query(source_db, EVENTS + "INSERT INTO events (id, what) VALUES (40, 'explicit id');", which="source")
    query(services.target_db, OWNER + EVENTS)
    datacopy.copy_data("source", "target", False, lambda line: None)
    query(services.target_db, "SELECT setval('events_id_seq', 1, false)")  # where the killed run left it
    done = datacopy.copy_data("source", "target", False, lambda line: None)
    assert (done.copy, done.replace, done.sequences) == ([], [], 1)
    assert datacopy.copy_data("source", "target", False, lambda line: None).sequences == 0  # converged
    with _app(services.target_db) as app:  # the application's next INSERT does not collide
        assert app.execute("INSERT INTO events (what) VALUES ('next') RETURNING id").fetchone()[0] == 41


def test_a_plain_rerun_takes_no_backup_and_changes_nothing_while_the_app_writes(project, source_db):
    from tests.copy_support import same_schema

    project.extra["DATA_MIGRATION"] = "copy"
    same_schema(project, source_db, EVENTS)
    first = project.deploy()
    assert first.code == 0, first.output[-2500:]
    # issue 31 item 5: the health check's estimate sees the copied rows (the tables were analysed)
    estimate = re.search(r"tables, ~([\d,]+) rows", first.output)
    assert estimate and int(estimate[1].replace(",", "")) >= 555, first.output[-2500:]
    backups = project.tmp / "backups" / "target"
    dumps = sorted(backups.glob("*")) if backups.exists() else []
    with _app(project.target_db) as app:
        app.execute("INSERT INTO events (what) VALUES ('signed up')")
    before = _sequences(project.target_db)
    for _ in range(2):
        rerun = project.deploy()
        assert rerun.code == 0, rerun.output[-2500:]
        assert rerun.operations()["Data copied"] == "no_change", rerun.output[-2500:]
        assert (sorted(backups.glob("*")) if backups.exists() else []) == dumps
        assert _sequences(project.target_db) == before
    with _app(project.target_db) as app:
        app.execute("INSERT INTO events (what) VALUES ('logged in')")


STATE = st.tuples(st.sampled_from([1, 2, 5, -1, -3]), st.integers(0, 4), st.integers(0, 4), st.booleans())


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(state=STATE)
def test_any_sequence_state_only_moves_forward_and_never_repeats_a_value(services, source_db, state):
    """Random states: called or not, increments up and down, source ahead or behind. Oracle: the
    values nextval gave on either side are never given again by the target after the copy."""
    from tasks.data import sequences

    increment, source_calls, target_calls, target_set_back = state
    ddl = f"DROP SEQUENCE IF EXISTS s; CREATE SEQUENCE s INCREMENT {increment};"
    query(source_db, ddl, which="source")
    query(services.target_db, OWNER + ddl)
    given_out = [query(source_db, "SELECT nextval('s')", which="source")[0][0] for _ in range(source_calls)]
    given_out += [query(services.target_db, "SELECT nextval('s')")[0][0] for _ in range(target_calls)]
    if target_set_back and target_calls:  # the app set it with is_called false to its next value
        nxt = given_out[-1] + increment
        query(services.target_db, "SELECT setval('s', %s, false)", (nxt,))
    before = query(services.target_db, "SELECT last_value, is_called FROM s")[0]
    with psycopg.connect(conninfo("source"), autocommit=True) as src, \
            psycopg.connect(conninfo("target"), autocommit=True) as dst:
        moved = sequences.advance(src, dst, set(), {})
        again = sequences.advance(src, dst, set(), {})
    assert again == 0
    if source_calls <= target_calls:
        assert moved == 0 and query(services.target_db, "SELECT last_value, is_called FROM s")[0] == before
    value = query(services.target_db, "SELECT nextval('s')")[0][0]
    assert value not in given_out
    assert all((value > v) if increment > 0 else (value < v) for v in given_out)
    query(services.target_db, "DROP SEQUENCE s")
    query(source_db, "DROP SEQUENCE s", which="source")


def test_the_sequence_of_a_partitioned_table_moves_past_the_copied_rows(services, source_db):
    """Tester's finding 7. Old code: ev_id_seq stayed at 2 after rows 1000 and 2000 were copied (the
    partitioned parent was named unqualified and never matched), so the app's next INSERTs collided."""
    _migrate(services.target_url)
    ddl = ("CREATE TABLE ev (id bigserial, k int, PRIMARY KEY (id, k)) PARTITION BY LIST (k);"
           "CREATE TABLE ev_1 PARTITION OF ev FOR VALUES IN (1); CREATE TABLE ev_2 PARTITION OF ev FOR VALUES IN (2);")
    query(source_db, ddl + "INSERT INTO ev (k) VALUES (1); SELECT setval('ev_id_seq', 1, true);"
          "INSERT INTO ev VALUES (1000, 1), (2000, 2);", which="source")
    query(services.target_db, OWNER + ddl)
    datacopy.copy_data("source", "target", False, lambda line: None)
    assert query(services.target_db, "SELECT nextval('ev_id_seq')")[0][0] == 2001


def test_a_sequence_two_tables_share_owned_by_neither_moves_past_both_tables_rows(services, source_db):
    """Adversary pass 4, finding 5. Old code: a sequence named by the defaults of two tables (owned by
    neither) stayed where the source's was, behind rows written with explicit ids, so the application's
    next INSERT collided. A text column whose default only embeds it is left out (not a number)."""
    _migrate(services.target_url)
    ddl = ("CREATE SEQUENCE shared_id; CREATE TABLE sa (id bigint PRIMARY KEY DEFAULT nextval('shared_id'), "
           "code text DEFAULT 'c-' || nextval('shared_id'));"
           "CREATE TABLE sb (id int PRIMARY KEY DEFAULT nextval('shared_id'));")
    query(source_db, ddl + "INSERT INTO sa (id) VALUES (1), (500); INSERT INTO sb VALUES (900);", which="source")
    query(services.target_db, OWNER + ddl)
    datacopy.copy_data("source", "target", False, lambda line: None)
    with _app(services.target_db) as app:
        assert app.execute("INSERT INTO sb DEFAULT VALUES RETURNING id").fetchone()[0] == 901
        app.execute("INSERT INTO sa (code) VALUES (DEFAULT)")  # no collision with a copied row
