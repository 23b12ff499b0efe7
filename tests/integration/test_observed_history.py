"""
Issue 29 class 7 (outside tester, P1/P7): a file that changes the tool's history table indirectly (a DO
block, dynamic SQL, a function, a procedure, a writable view, a child table, a REVOKE, DROP OWNED, a
renamed schema public) is caught by observing the history (not by parsing), named, rolled back; in the
proof, before the target is touched. A file that ends the tool's own session is named by the proof.
"""

import threading
import time

import psycopg
import pytest

import sandbox
from tests.support import query

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

INDIRECT = {
    "do block": "DO $$BEGIN DELETE FROM schema_migrations WHERE version = 1; END$$;\n",
    "execute of a string": "DO $$BEGIN EXECUTE 'DELETE FROM schema_' || 'migrations WHERE version = 1'; END$$;\n",
    "sql function": "CREATE FUNCTION wipe() RETURNS void LANGUAGE sql AS\n"
                    "$$DELETE FROM schema_migrations WHERE version = 1$$;\nSELECT wipe();\n",
    "procedure": "CREATE PROCEDURE wipe() LANGUAGE sql AS\n$$DELETE FROM schema_migrations WHERE version = 1$$;\n"
                 "CALL wipe();\n",
    "writable view": "DO $$BEGIN EXECUTE 'CREATE VIEW hist AS SELECT * FROM schema_' || 'migrations'; END$$;\n"
                     "INSERT INTO hist (version, name, checksum) VALUES (99, 'x', 'y');\n",
    "child table": "DO $$BEGIN EXECUTE 'CREATE TABLE fake_hist () INHERITS (schema_' || 'migrations)'; END$$;\n"
                   "INSERT INTO fake_hist (version, name, checksum) VALUES (99, 'x', 'y');\n",
    "trigger on another table": (
        "CREATE TABLE t (id int);\nCREATE FUNCTION wipe() RETURNS trigger LANGUAGE plpgsql AS\n"
        "$$BEGIN EXECUTE 'DELETE FROM schema_' || 'migrations WHERE version = 1'; RETURN NEW; END$$;\n"
        "CREATE TRIGGER w AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION wipe();\nINSERT INTO t VALUES (1);\n"),
    "an update that writes the same values": (
        "DO $$BEGIN EXECUTE 'UPDATE schema_' || 'migrations SET name = name WHERE version = 1'; END$$;\n"),
    "a default that runs code": (
        "CREATE FUNCTION stamp() RETURNS timestamptz LANGUAGE plpgsql AS\n"
        "$f$BEGIN DELETE FROM public.schema_migrations WHERE version = 1; RETURN now(); END$f$;\n"
        "DO $$BEGIN EXECUTE 'ALTER TABLE public.schema_' || 'migrations ALTER COLUMN applied_at SET DEFAULT stamp()';"
        " END$$;\n"),
    "its key dropped": (
        "DO $$BEGIN EXECUTE 'ALTER TABLE public.schema_' || 'migrations DROP CONSTRAINT schema_migrations_pkey';"
        " END$$;\n"),
    "a column grant": (
        "DO $$BEGIN EXECUTE 'GRANT UPDATE (checksum) ON public.schema_' || 'migrations TO PUBLIC'; END$$;\n"),
    "row level security": (
        "DO $$BEGIN EXECUTE 'ALTER TABLE public.schema_' || 'migrations ENABLE ROW LEVEL SECURITY'; END$$;\n"),
    "attached as a partition": (
        "CREATE TABLE hist_parent (LIKE public.schema_migrations) PARTITION BY RANGE (version);\n"
        "ALTER TABLE hist_parent ATTACH PARTITION public.schema_migrations FOR VALUES FROM (0) TO (1000);\n"),
    "a deferred trigger firing at commit": (
        "CREATE TABLE t6 (id int);\nCREATE FUNCTION t6_fire() RETURNS trigger LANGUAGE plpgsql AS\n"
        "$f$BEGIN EXECUTE 'UPDATE public.schema_' || 'migrations SET name = ''x'' WHERE version = 1'; RETURN NULL; "
        "END$f$;\nCREATE CONSTRAINT TRIGGER t6_c AFTER INSERT ON t6 DEFERRABLE INITIALLY DEFERRED\n"
        "  FOR EACH ROW EXECUTE FUNCTION t6_fire();\nINSERT INTO t6 VALUES (1);\n"),
    "revoke from the tool": "REVOKE INSERT ON schema_migrations FROM CURRENT_USER;\n",
    "drop owned": "DROP OWNED BY CURRENT_USER;\n",
    "schema public renamed": "ALTER SCHEMA public RENAME TO public_old;\nCREATE SCHEMA public;\n",
}


@pytest.mark.parametrize("text", INDIRECT.values(), ids=INDIRECT.keys())
def test_a_file_that_changes_the_history_indirectly_is_refused_by_the_proof(project, text):
    project.write_migration("005_sneaky.sql", text)
    result = project.deploy()
    assert result.code != 0, result.output[-2000:]
    assert "migration 005_sneaky.sql: the file changed the tool's history table" in result.output, result.output[-3000:]
    assert "the target was not touched" in result.output
    assert project.applied_versions() == []
    project.write_migration("005_sneaky.sql", "SELECT 1;\n")
    again = project.deploy()
    assert again.code == 0, again.output[-2000:]
    assert project.applied_versions() == [1, 2, 3, 4, 5]


def test_an_event_trigger_on_the_target_alone_that_changes_the_history_is_refused_and_rolled_back(project):
    """The proof cannot see a trigger made by hand on the target: the apply's own check catches it."""
    assert project.deploy().code == 0
    with psycopg.connect(sandbox.admin_conninfo("target", project.target_db), autocommit=True) as conn:
        conn.execute("CREATE FUNCTION wipe() RETURNS event_trigger LANGUAGE plpgsql AS "
                     "$$BEGIN DELETE FROM public.schema_migrations WHERE version = 1; END$$; "
                     "CREATE EVENT TRIGGER w ON ddl_command_end EXECUTE FUNCTION wipe()")
    project.write_migration("005_note.sql", "CREATE TABLE more (id int);\n")
    result = project.deploy()
    assert result.code != 0
    assert "migration 005_note.sql: the file changed the tool's history table" in result.output, result.output[-3000:]
    assert project.applied_versions() == [1, 2, 3, 4]
    assert query(project.target_db, "SELECT to_regclass('public.more') IS NULL") == [(True,)]


ENDS_SESSION = {
    "from pg_stat_activity": "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = pg_backend_pid();\n",
    "subquery": "SELECT pg_terminate_backend((SELECT pg_backend_pid()));\n",
    "perform": "DO $$BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); END$$;\n",
    "sql function": "CREATE FUNCTION bye() RETURNS bool LANGUAGE sql AS\n"
                    "$$SELECT pg_terminate_backend(pg_backend_pid())$$;\nSELECT bye();\n",
}


@pytest.mark.parametrize("text", ENDS_SESSION.values(), ids=ENDS_SESSION.keys())
def test_a_file_that_ends_the_tools_own_session_is_named_by_the_proof(project, text):
    project.write_migration("005_bye.sql", "CREATE TABLE kept (id int);\n" + text)
    result = project.deploy()
    assert result.code != 0
    assert "migration 005_bye.sql: the file ends the tool's own session" in result.output, result.output[-3000:]
    assert "run again" not in result.output.split("the file ends")[1].split("\n")[0].replace("and run again", "")
    assert project.applied_versions() == []


def test_the_digest_carried_past_the_tools_row_is_the_one_postgresql_reads_again(target_db):
    """A file's closing reads the history once (its check) and adds the tool's own row to that digest
    (observed.after_record) instead of reading it again: PostgreSQL's reading is the oracle, on a history
    with the gaps and new row versions that deleted and updated rows leave."""
    from tasks.migrations import observed
    from tasks.migrations.engine import apply_migrations
    from tasks.migrations.files import read_migrations
    from tasks.migrations.session import Limits
    from tests.support import MIGRATIONS

    apply_migrations(sandbox.admin_conninfo("target", target_db), read_migrations(MIGRATIONS), None, Limits())
    with psycopg.connect(sandbox.admin_conninfo("target", target_db), autocommit=True) as conn:
        conn.execute("DELETE FROM schema_migrations WHERE version = 2")
        conn.execute("UPDATE schema_migrations SET name = name WHERE version = 3")
        for version in range(100, 140):
            before = observed.digest(conn)
            mark = conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, 'n', 'c') "
                f"RETURNING {observed.ROW_MARK}",
                (version,),
            ).fetchone()[0]
            assert observed.after_record(before, mark) == observed.digest(conn)
            if version % 7 == 0:  # a gap in the pages: the next row may take its place
                conn.execute("DELETE FROM schema_migrations WHERE version = %s", (version - 3,))
                conn.execute("VACUUM schema_migrations")


def test_an_operator_of_the_files_does_not_run_in_the_tools_own_insert(project):
    """The tool's row names pg_catalog's operators and functions and gives every column: a file's
    ``numeric * integer`` (or a default) never runs inside the tool's INSERT, after the check."""
    project.write_migration(
        "005_ops.sql",
        "CREATE FUNCTION mul_ni(numeric, integer) RETURNS numeric LANGUAGE plpgsql AS\n"
        "$f$BEGIN DELETE FROM public.schema_migrations WHERE version = 1; RETURN $1 * $2::numeric; END$f$;\n"
        "CREATE OPERATOR public.* (LEFTARG = numeric, RIGHTARG = integer, FUNCTION = mul_ni);\n",
    )
    result = project.deploy()
    assert result.code == 0, result.output[-2000:]
    assert project.applied_versions() == [1, 2, 3, 4, 5]


def test_a_trigger_made_by_hand_on_the_history_is_refused_before_any_file(project):
    """A trigger on the history table present before the run (the proof's shadow never has one) would
    run when the tool records a file: the run stops before the first file, naming it."""
    assert project.deploy().code == 0
    with psycopg.connect(sandbox.admin_conninfo("target", project.target_db), autocommit=True) as conn:
        conn.execute("CREATE FUNCTION public.hand() RETURNS trigger LANGUAGE plpgsql AS "
                     "$$BEGIN NEW.name := 'by-hand'; RETURN NEW; END$$; "
                     "CREATE TRIGGER hand BEFORE INSERT ON public.schema_migrations "
                     "FOR EACH ROW EXECUTE FUNCTION public.hand()")
    project.write_migration("005_more.sql", "CREATE TABLE more (id int);\n")
    result = project.deploy(ALLOW_EXTRA_OBJECTS="true")
    assert result.code != 0, result.output[-2000:]
    assert "public.schema_migrations has trigger hand" in result.output, result.output[-3000:]
    assert project.applied_versions() == [1, 2, 3, 4]
    assert query(project.target_db, "SELECT to_regclass('public.more') IS NULL") == [(True,)]


def test_the_tools_own_row_waits_for_its_lock_no_longer_than_the_files_statements(project):
    """An application holding SHARE on the history (a long report) blocks the tool's INSERT: it gives up
    within MIGRATION_LOCK_TIMEOUT like any statement of the file (it waited until the holder ended)."""
    assert project.deploy().code == 0
    project.write_migration("005_more.sql", "CREATE TABLE more (id int);\n")
    holder = psycopg.connect(sandbox.admin_conninfo("target", project.target_db))
    holder.execute("LOCK TABLE public.schema_migrations IN SHARE MODE")
    release = threading.Timer(60, holder.rollback)
    release.start()
    try:
        started = time.monotonic()
        result = project.deploy(MIGRATION_LOCK_TIMEOUT="500ms", LOCK_RETRY_S="0")
        waited = time.monotonic() - started
    finally:
        release.cancel()
        holder.close()
    assert result.code != 0, result.output[-2000:]
    assert waited < 50, f"the run waited {waited:.0f} s for the application's lock"
    assert project.applied_versions() == [1, 2, 3, 4]
    assert query(project.target_db, "SELECT to_regclass('public.more') IS NULL") == [(True,)]


def test_a_vacuum_full_file_after_a_dead_history_row_is_not_refused(project):
    """VACUUM FULL moves the history's rows when a dead one comes first: their versions are the same
    rows (same key, same writing transaction), so the history is unchanged."""
    assert project.deploy().code == 0
    query(project.target_db, "UPDATE public.schema_migrations SET name = name WHERE version = 1")
    project.write_migration("005_vacuum.sql", "-- pgconverge:no-transaction\nVACUUM FULL;\n")
    result = project.deploy()
    assert result.code == 0, result.output[-3000:]
    assert project.applied_versions() == [1, 2, 3, 4, 5]
