"""Splitting SQL into statements with PostgreSQL's own parser (pure): issue 16.3, 16.4 and 16.5."""

import pytest
from hypothesis import given, settings

from tasks.migrations.sqlsplit import SqlError, split_statements
from tests.sqlgen import sql_file


def texts(sql):
    return [s.text for s in split_statements(sql)]


def test_a_dollar_tag_outside_the_basic_plane_does_not_hide_the_next_statement():
    sql = "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $😀$ SELECT 'x' $😀$;\nCOMMIT;\n"
    statements = split_statements(sql)
    assert [s.kind for s in statements] == ["CreateFunctionStmt", "TransactionStmt"]
    assert statements[1].line == 2 and statements[1].text == "COMMIT"


def test_line_numbers_are_those_of_the_first_token_not_of_the_comment_before():
    sql = "CREATE TABLE a (id int);\n" + "-- a comment\n" * 7 + "\n/* and\n another */\nINSERT INTO a VALUES (1);\n"
    statements = split_statements(sql)
    assert [s.line for s in statements] == [1, 12]
    assert statements[1].text == "INSERT INTO a VALUES (1)"


def test_semicolons_inside_strings_identifiers_comments_and_dollar_quotes_do_not_split():
    sql = (
        "SELECT 'a;b', E'it\\'s;', \"we;ird\";\n"
        "/* one; /* nested; */ still; */ SELECT 2;\n"
        "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END; $body$;\n"
        "DO $$ BEGIN PERFORM 1; END $$;"
    )
    assert len(texts(sql)) == 4
    assert texts(sql)[2].endswith("$body$")


def test_begin_atomic_body_is_one_statement():
    sql = ("CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql\n"
           "BEGIN ATOMIC\n  SELECT a + b;\n  SELECT CASE WHEN a > 0 THEN 1 ELSE 2 END;\nEND;\nSELECT 1;")
    assert len(texts(sql)) == 2


def test_comment_only_text_has_no_statement():
    assert split_statements("-- nothing here\n/* nor here */\n  \n;;\n") == []


@pytest.mark.parametrize("sql, line, command", [
    ("--\n-- PostgreSQL database dump\n--\n\n\\restrict AbC123\n\nSET statement_timeout = 0;\n", 5, "\\restrict"),
    ("SELECT 1;\nSELECT 2 \\gset\n", 2, "\\gset"),
    ("SELECT 1;\n  \\i other.sql\n", 2, "\\i"),
])
def test_psql_meta_commands_anywhere_are_refused_with_their_line(sql, line, command):
    with pytest.raises(SqlError) as raised:
        split_statements(sql)
    assert raised.value.line == line and f"psql meta-command {command} " in str(raised.value)


def test_a_backslash_inside_a_string_is_not_a_meta_command():
    assert texts("SELECT E'\\\\restrict', '\\x';") == ["SELECT E'\\\\restrict', '\\x'"]


def test_syntax_errors_name_their_line():
    with pytest.raises(SqlError, match="line 3: syntax error at or near \"TABEL\""):
        split_statements("SELECT '😀😀';\n\nCREATE TABEL t (id int);\n")


@settings(max_examples=150, deadline=None)
@given(sql_file())
def test_generated_files_split_into_the_statements_they_were_made_of(example):
    sql, expected = example
    statements = split_statements(sql)
    assert [(s.text, s.line) for s in statements] == [(text, line) for text, line, _ in expected]
    for statement in statements:
        assert sql[statement.offset:].startswith(statement.text)
