"""
Statements aimed at the tool itself are refused, found in PostgreSQL's parse tree (pglast), in any
spelling: writes to ``public.schema_migrations`` and ``COPY ... FROM STDIN``. Pure.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.migrations.files import MigrationFileError, _check_statements
from tasks.migrations.forbidden import forbidden
from tasks.migrations.sqlsplit import split_statements


def reason(sql: str) -> str | None:
    statement = split_statements(sql)[0]
    return forbidden(statement.kind, statement.node)


WRITES = [
    "INSERT INTO schema_migrations (version) VALUES (9)",
    "UPDATE public.schema_migrations SET checksum = 'x'",
    'DELETE FROM "public"."schema_migrations" WHERE version = 3',
    "TRUNCATE other_table, schema_migrations",
    "ALTER TABLE schema_migrations ADD COLUMN note text",
    "ALTER TABLE public.schema_migrations RENAME TO old_history",
    "ALTER TABLE schema_migrations SET SCHEMA archive",
    'DROP TABLE IF EXISTS "schema_migrations"',
    "DROP TABLE a, public.schema_migrations CASCADE",
    "DROP SCHEMA public CASCADE",
    "WITH gone AS (DELETE FROM schema_migrations RETURNING version) SELECT count(*) FROM gone",
    "MERGE INTO schema_migrations m USING (SELECT 1 AS v) s ON m.version = s.v WHEN MATCHED THEN DELETE",
    "COPY schema_migrations FROM '/tmp/history.csv'",
    "CREATE TRIGGER t BEFORE INSERT ON schema_migrations FOR EACH ROW EXECUTE FUNCTION f()",
    "CREATE RULE r AS ON INSERT TO schema_migrations DO INSTEAD NOTHING",
]

ALLOWED = [
    "SELECT * FROM schema_migrations",
    "INSERT INTO audit SELECT version FROM public.schema_migrations",
    "INSERT INTO app.schema_migrations VALUES (1)",  # another schema's table of that name is the app's own
    'UPDATE "Schema_Migrations" SET x = 1',  # a quoted, different name
    "DROP SCHEMA public",  # without CASCADE the server refuses while the table is there
    "DROP INDEX schema_migrations",
    "COPY users FROM '/tmp/users.csv'",
    "CREATE TABLE schema_migrations_archive (version bigint)",
]


@pytest.mark.parametrize("sql", WRITES)
def test_a_write_to_the_history_table_is_refused_by_name(sql):
    found = reason(sql + ";")
    assert found and "public.schema_migrations" in found and "not allowed" in found


@pytest.mark.parametrize("sql", ALLOWED)
def test_reading_it_or_other_tables_is_allowed(sql):
    assert reason(sql + ";") is None


@pytest.mark.parametrize("sql, words", [("COPY users FROM STDIN;", "FROM STDIN"),
                                        ("COPY users (id) FROM stdin WITH (FORMAT csv);", "FROM STDIN"),
                                        ("COPY (SELECT 1) TO STDOUT;", "TO STDOUT")])
def test_copy_from_stdin_is_refused_with_file_and_line(sql, words):
    statements = split_statements("CREATE TABLE users (id int);\n\n" + sql + "\n")
    with pytest.raises(MigrationFileError) as caught:
        _check_statements("005_load.sql", False, statements)
    message = str(caught.value)
    assert message.startswith("migration 005_load.sql line 3: COPY ... " + words)
    assert "seed file" in message


def spelled(draw_case: str, name: str, quote: bool) -> str:
    return f'"{name}"' if quote else "".join(c.upper() if u else c for c, u in zip(name, draw_case))


@settings(max_examples=200, deadline=None)
@given(verb=st.sampled_from(["DELETE FROM {t}", "UPDATE {t} SET name = 'x'", "TRUNCATE {t}", "DROP TABLE {t}",
                             "ALTER TABLE {t} DROP COLUMN name", "INSERT INTO {t} (version) VALUES (1)"]),
       qualified=st.booleans(), quote_schema=st.booleans(), quote_table=st.booleans(),
       cases=st.text(alphabet="01", min_size=17, max_size=17), comment=st.booleans())
def test_any_spelling_of_the_history_table_is_refused(verb, qualified, quote_schema, quote_table, cases, comment):
    """Unquoted names fold to lower case, quoted ones keep theirs: every spelling PostgreSQL resolves to
    public.schema_migrations is refused."""
    table = spelled([c == "1" for c in cases], "schema_migrations", quote_table)
    if qualified:
        table = (
            spelled([c == "1" for c in cases[:6]], "public", quote_schema) + (" /* c */ . " if comment else ".") + table
        )
    assert reason(verb.format(t=table) + ";") is not None


def test_copy_from_stdin_with_its_rows_is_named_not_the_end_of_data_line():
    """pg_dump's data form (rows, then ``\\.``): the COPY's line is named, not "psql meta-command \\."."""
    from tasks.migrations.sqlsplit import SqlError

    with pytest.raises(SqlError) as caught:
        split_statements("CREATE TABLE l (id int);\nCOPY l (id) FROM stdin WITH (FORMAT csv);\n1\n2\n\\.\nSELECT 1;\n")
    assert "line 2" in str(caught.value) and "COPY ... FROM STDIN is not allowed" in str(caught.value)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT pg_terminate_backend(pg_backend_pid());",
        "DO $$ BEGIN PERFORM 1; END $$; SELECT pg_catalog.pg_cancel_backend(pg_backend_pid());",
    ],
)
def test_ending_the_tools_own_session_is_refused(sql):
    statements = split_statements(sql)
    assert any(forbidden(s.kind, s.node) and "the tool's own session" in forbidden(s.kind, s.node) for s in statements)


def test_ending_another_session_is_the_files_business():
    assert reason("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'x';") is None
