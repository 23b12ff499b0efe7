"""
A run costs what its work costs (issue 21), counted by the servers themselves, not by our code:
``pg_stat_database.sessions`` counts every connection made to a database, and
``pg_stat_user_tables.seq_scan`` every read of ``schema_migrations``. Real pyinfra CLI, real clusters.
"""

import time
from urllib.parse import quote

from psycopg import sql

from tests.support import Project, admin, create_target_db, drop_db


SESSIONS = "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
HISTORY_READS = ("SELECT seq_scan + coalesce(idx_scan, 0) FROM pg_stat_user_tables "
                 "WHERE relid = 'public.schema_migrations'::regclass")


def _read(conn, text: str) -> int:
    """A statistics counter once the backends that moved it have reported (they do so as they end)."""
    time.sleep(1.2)
    return conn.execute(text).fetchone()[0]


def test_a_converged_run_opens_one_session_per_database_and_reads_the_history_once(project, source_db):
    assert project.deploy().code == 0
    assert project.deploy().code == 0  # the source backup of the first run is current from here on
    with admin("target", project.target_db) as target, admin("source", source_db) as source:
        before = _read(target, SESSIONS), _read(source, SESSIONS), _read(target, HISTORY_READS)
        again = project.deploy()
        assert again.code == 0, again.output[-3000:]
        assert again.changed() == []
        after = _read(target, SESSIONS), _read(source, SESSIONS), _read(target, HISTORY_READS)
    assert [a - b for a, b in zip(after, before)] == [1, 1, 1]  # target sessions, source sessions, history reads


def test_a_role_allowed_only_the_connections_the_work_needs_still_converges(sandbox, tmp_path):
    """The run keeps a session open for its facts, but not while a step works: the work has every
    slot. The verified backup needs two (a session holding the snapshot, and pg_dump reading it)."""
    role, password, db = "two_slots", "two slots only", create_target_db()
    try:
        with admin() as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN CONNECTION LIMIT 2 PASSWORD {}").format(
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
