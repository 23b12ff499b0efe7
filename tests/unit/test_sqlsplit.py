"""Splitting SQL into statements like psql does (pure)."""

from tasks.migrations.sqlsplit import split_statements, strip_comments


def texts(sql):
    return [s.text for s in split_statements(sql)]


def test_plain_statements_and_line_numbers():
    sql = "CREATE TABLE a (id int);\n\n-- comment\nINSERT INTO a VALUES (1);\n"
    statements = split_statements(sql)
    assert [s.text for s in statements] == ["CREATE TABLE a (id int)", "-- comment\nINSERT INTO a VALUES (1)"]
    assert [s.line for s in statements] == [1, 3]


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
    sql = (
        "CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql\n"
        "BEGIN ATOMIC\n  SELECT a + b;\n  SELECT CASE WHEN a > 0 THEN 1 ELSE 2 END;\nEND;\nSELECT 1;"
    )
    assert len(texts(sql)) == 2


def test_comment_only_text_has_no_statement():
    assert split_statements("-- nothing here\n/* nor here */\n  \n") == []


def test_strip_comments_keeps_strings():
    assert strip_comments("SELECT '--x' -- gone\n") .strip() == "SELECT '--x'"
