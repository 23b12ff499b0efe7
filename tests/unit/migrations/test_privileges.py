"""The privileges the pending files need, and what the target's role lacks (pure)."""

from tasks.migrations.files import read_migrations
from tasks.migrations.privileges import missing, needs_of


def migrations(tmp_path, **files):
    for name, text in files.items():
        (tmp_path / f"{name}.sql").write_text(text)
    return read_migrations(tmp_path)


def test_needs_name_each_schema_written_to_and_each_new_schema(tmp_path):
    files = migrations(tmp_path, **{"001_a": "CREATE TABLE t (id int); CREATE VIEW audit.v AS SELECT 1;",
                                    "002_b": "CREATE SCHEMA s; CREATE TABLE s.x (id int); CREATE TYPE e AS ENUM ('a');"
                                             " CREATE FUNCTION f.g() RETURNS int LANGUAGE sql AS 'SELECT 1';"
                                             " CREATE TEMP TABLE tmp (id int);"})
    needs = needs_of(files, history_table_exists=True)
    assert needs.schemas == {"": "migration 001_a.sql", "audit": "migration 001_a.sql", "s": "migration 002_b.sql",
                             "f": "migration 002_b.sql"}
    assert needs.new_schemas == {"s": "migration 002_b.sql"}
    assert "public" in needs_of(files, history_table_exists=False).schemas


def test_missing_privileges_name_the_role_schema_file_and_grant(tmp_path):
    files = migrations(tmp_path, **{"005_a": "CREATE TABLE t (id int);", "006_b": "CREATE SCHEMA s;"})
    granted = {"user": "app", "database": "app", "database_create": False, "default_schema": "public",
               "schemas": {"public": "f"}}
    problems = missing(needs_of(files, True), granted)
    assert problems == [
        ("migration 006_b.sql creates schema s, but role app lacks CREATE on database app: "
        "GRANT CREATE ON DATABASE app TO app, or create the schema as its owner"),
        ("role app lacks CREATE on schema public, needed by migration 005_a.sql (PostgreSQL 15 no longer grants it "
        "on public to every role): GRANT CREATE ON SCHEMA public TO app, or use the schema owner's URL"),
    ]
    assert missing(needs_of(files, True), {**granted, "database_create": True, "schemas": {"public": "t"}}) == []


def test_an_existing_schema_the_files_create_if_not_exists_is_checked_for_create_and_usage(tmp_path):
    files = migrations(tmp_path, **{"006_a": "CREATE SCHEMA IF NOT EXISTS app; CREATE TABLE app.t6 (id int);"})
    granted = {"user": "u", "database": "d", "database_create": False, "default_schema": "public",
               "schemas": {"app": "f"}}
    assert missing(needs_of(files, True), granted) == [
        ("role u lacks CREATE on schema app, needed by migration 006_a.sql (PostgreSQL 15 no longer grants it "
        "on public to every role): GRANT CREATE ON SCHEMA app TO u, or use the schema owner's URL")]
    assert missing(needs_of(files, True), {**granted, "schemas": {"app": "t"}}) == []


def test_set_search_path_in_a_file_sends_unqualified_names_to_its_first_schema(tmp_path):
    files = migrations(tmp_path, **{"005_a": "SET search_path TO app, public; CREATE TABLE t5 (id int);"})
    needs = needs_of(files, True)
    assert needs.schemas == {"app": "migration 005_a.sql"}
    granted = {"user": "u", "database": "d", "database_create": True, "default_schema": "public",
               "schemas": {"app": "nousage"}}
    assert missing(needs, granted) == [
        ("role u lacks USAGE on schema app, needed by migration 005_a.sql (without it the objects would land in "
        "another schema, or fail): GRANT USAGE, CREATE ON SCHEMA app TO u, or use the schema owner's URL")]


def test_a_table_in_pg_temp_needs_no_create_privilege():
    """Third adversary pass on issue 27, finding 10: CREATE TABLE pg_temp.t was refused as writing to a
    schema pg_temp 'which does not exist', with advice to create it (PostgreSQL forbids pg_ names)."""
    from tasks.migrations.privileges import file_needs
    from tasks.migrations.sqlsplit import split_statements

    sql = "CREATE TABLE pg_temp.t (id int);\nSET search_path = pg_temp_3, app;\nCREATE VIEW w AS SELECT 1;\n"
    assert file_needs(split_statements(sql)) == []


def test_set_local_in_a_no_transaction_file_leaves_the_roles_schema(tmp_path):
    """SET LOCAL has no effect outside a transaction block: the CREATE goes to the role's own path."""
    from tasks.migrations.privileges import file_needs
    from tasks.migrations.sqlsplit import split_statements

    sql = "SET LOCAL search_path = app;\nCREATE VIEW w AS SELECT 1;\n"
    assert file_needs(split_statements(sql)) == [("app", None)]
    assert file_needs(split_statements(sql), in_transaction=False) == [("", None)]
