"""
A run costs what its work costs (issue 21), counted by the servers themselves, not by our code:
``pg_stat_database.sessions`` counts every connection made to a database, and
``pg_stat_user_tables.seq_scan`` every read of ``schema_migrations``. Real pyinfra CLI, real clusters.
"""

import time
from urllib.parse import quote

from psycopg import sql

from tests.support import Project, admin, create_target_db, drop_db, query


def _sessions(dbname: str, which: str) -> int:
    return query(dbname, "SELECT sessions FROM pg_stat_database WHERE datname = current_database()", which=which)[0][0]


def _history_reads(dbname: str) -> int:
    return query(dbname, "SELECT seq_scan + coalesce(idx_scan, 0) FROM pg_stat_user_tables "
                         "WHERE relid = 'public.schema_migrations'::regclass")[0][0]


def _settled(read):
    """A statistics counter once the backends that moved it have reported (they do so as they end)."""
    time.sleep(1.2)
    return read()


def test_a_converged_run_opens_one_session_per_database_and_reads_the_history_once(project, source_db):
    assert project.deploy().code == 0
    assert project.deploy().code == 0  # the source backup of the first run is current from here on
    target_before = _settled(lambda: _sessions(project.target_db, "target"))
    source_before = _sessions(source_db, "source")
    reads_before = _history_reads(project.target_db)

    again = project.deploy()
    assert again.code == 0, again.output[-3000:]
    assert again.changed() == []
    # (each count below also holds the one session this test opens to read it)
    assert _settled(lambda: _sessions(project.target_db, "target")) - target_before == 1 + 1
    assert _sessions(source_db, "source") - source_before == 1 + 1
    assert _history_reads(project.target_db) - reads_before == 1



def test_a_role_allowed_one_connection_still_converges(sandbox, tmp_path):
    """The run keeps a session open for its facts, but not while a step works: the work has the slot."""
    role, password, db = "one_slot", "one slot only", create_target_db()
    try:
        with admin() as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN CONNECTION LIMIT 1 PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)))
            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(db), sql.Identifier(role)))
        with admin("target", db) as conn:
            conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(role)))
        project = Project(tmp_path, db)
        credentials = project.target_url.split("//", 1)[1].split("@", 1)[0]
        project.target_url = project.target_url.replace(credentials, f"{role}:{quote(password, safe='')}", 1)
        first = project.deploy()
        assert first.code == 0, first.output[-3000:]
        assert project.applied_versions() == [1, 2, 3, 4]
        second = project.deploy()
        assert second.code == 0 and second.changed() == [], second.output[-3000:]
    finally:
        drop_db(db)
        with admin() as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
