"""
Issue 29 class 7 (outside tester, P1/P7): a file that changes the tool's history table indirectly (a DO
block, dynamic SQL, a function, a procedure, a writable view, a child table, a REVOKE, DROP OWNED, a
renamed schema public) is caught by observing the history (not by parsing), named, rolled back; in the
proof, before the target is touched. A file that ends the tool's own session is named by the proof.
"""

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
