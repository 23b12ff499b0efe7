"""Preflight logic without a database: PostgreSQL timeouts, privileges the pending files need,
the history's rows, password files, the withdrawn environment and unwritable folders."""

import os
from pathlib import Path

import pytest

from tasks.core import environment
from tasks.core.connections import render_passfile
from tasks.core.folders import FolderError, check_writable, unwritable
from tasks.core.settings import SettingsError, load_settings
from tasks.core.urls import UrlError, parse_database_url
from tasks.migrations.files import MigrationFileError, read_migrations
from tasks.migrations.history import HistoryError, history_from_rows
from tasks.migrations.privileges import missing, needs_of

TARGET = "postgres://app:s3cret@db.example.com:5432/app"
SUM = "a" * 64


def settings(tmp_path, **env):
    (tmp_path / "files" / "migrations").mkdir(parents=True, exist_ok=True)
    return load_settings(environ={"TARGET_DATABASE_URL": TARGET, **env}, cwd=tmp_path)


@pytest.mark.parametrize("value", ["0", "5s", "500ms", "2min", "24d", "2147483647", "2147483.647s"])
def test_timeouts_within_postgresql_range_are_accepted(tmp_path, value):
    assert settings(tmp_path, MIGRATION_LOCK_TIMEOUT=value).lock_timeout == value


@pytest.mark.parametrize("value", ["99999999999", "25d", "2147483648", "600h"])
def test_timeouts_beyond_postgresql_range_blame_the_setting(tmp_path, value):
    with pytest.raises(SettingsError, match="MIGRATION_LOCK_TIMEOUT: .* is beyond PostgreSQL's limit"):
        settings(tmp_path, MIGRATION_LOCK_TIMEOUT=value)


def test_a_baseline_beyond_bigint_is_refused(tmp_path):
    with pytest.raises(SettingsError, match="BASELINE_VERSION"):
        settings(tmp_path, BASELINE_VERSION="9" * 20)


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
        "migration 006_b.sql creates schema s, but role app lacks CREATE on database app: "
        "GRANT CREATE ON DATABASE app TO app, or create the schema as its owner",
        "role app lacks CREATE on schema public, needed by migration 005_a.sql (PostgreSQL 15 no longer grants it "
        "on public to every role): GRANT CREATE ON SCHEMA public TO app, or use the schema owner's URL",
    ]
    assert missing(needs_of(files, True), {**granted, "database_create": True, "schemas": {"public": "t"}}) == []


def test_an_existing_schema_the_files_create_if_not_exists_is_checked_for_create_and_usage(tmp_path):
    files = migrations(tmp_path, **{"006_a": "CREATE SCHEMA IF NOT EXISTS app; CREATE TABLE app.t6 (id int);"})
    granted = {"user": "u", "database": "d", "database_create": False, "default_schema": "public",
               "schemas": {"app": "f"}}
    assert missing(needs_of(files, True), granted) == [
        "role u lacks CREATE on schema app, needed by migration 006_a.sql (PostgreSQL 15 no longer grants it "
        "on public to every role): GRANT CREATE ON SCHEMA app TO u, or use the schema owner's URL"]
    assert missing(needs_of(files, True), {**granted, "schemas": {"app": "t"}}) == []


def test_set_search_path_in_a_file_sends_unqualified_names_to_its_first_schema(tmp_path):
    files = migrations(tmp_path, **{"005_a": "SET search_path TO app, public; CREATE TABLE t5 (id int);"})
    needs = needs_of(files, True)
    assert needs.schemas == {"app": "migration 005_a.sql"}
    granted = {"user": "u", "database": "d", "database_create": True, "default_schema": "public",
               "schemas": {"app": "nousage"}}
    assert missing(needs, granted) == [
        "role u lacks USAGE on schema app, needed by migration 005_a.sql (without it the objects would land in "
        "another schema, or fail): GRANT USAGE, CREATE ON SCHEMA app TO u, or use the schema owner's URL"]


def row(**values):
    import json

    return ("row", "", json.dumps(values), "")


def test_history_names_with_tabs_and_line_breaks_are_read():
    history = history_from_rows([row(version=2, name="a\tb\nc", checksum=SUM, kind="applied"),
                                 row(version=1, name="x", checksum=SUM, kind="baseline")], True)
    assert [(r.version, r.name, r.kind) for r in history.rows] == [(1, "x", "baseline"), (2, "a\tb\nc", "applied")]


@pytest.mark.parametrize("values, words", [
    ({"version": "20240101"}, "has no column name, checksum (its columns: version): it is not pgconverge's history"),
    ({"version": 3, "name": "x", "checksum": "nope"}, "row for version 3 has no sha256 checksum"),
    ({"version": 3, "name": "x", "checksum": SUM, "kind": "other"}, "has the kind 'other'"),
    ({"version": -1, "name": "x", "checksum": SUM}, "has the negative version -1: versions count up from 0"),
])
def test_a_malformed_history_is_named_with_the_fix(values, words):
    with pytest.raises(HistoryError, match="the target's public.schema_migrations") as raised:
        history_from_rows([row(**values)], True)
    assert words in str(raised.value) and "rename it" in str(raised.value)


@pytest.mark.parametrize("password", [" a ", "p#x", "k=v", "back\\slash", "colon:s", "'q\""])
def test_password_files_escape_backslash_and_colon_and_keep_spaces(password):
    line = render_passfile(password)
    assert line.startswith("*:*:*:*:") and line.endswith("\n")
    unescaped = line[8:-1].replace("\\:", ":").replace("\\\\", "\\")
    assert unescaped == password


def test_a_password_with_a_line_break_is_refused_naming_the_cause():
    with pytest.raises(UrlError, match="line break"):
        parse_database_url("postgres://u:a%0Ab@db.example.com/x")


def test_secrets_are_withdrawn_and_only_the_api_key_comes_back():
    env = {"PATH": "/bin", "SOURCE_DATABASE_URL": "u", "TARGET_DATABASE_URL": "u", "HEROKU_API_KEY": "k",
           "HEROKU_POSTGRESQL_RED_URL": "u", "PGPASSWORD": "p", "ENV_FILE": ".env"}
    removed = environment.withdraw_secrets(env)
    assert env == {"PATH": "/bin", "ENV_FILE": ".env"} and len(removed) == 5
    assert environment.heroku_credentials() == {"HEROKU_API_KEY": "k"}


def test_unwritable_folders_are_named_before_anything_runs(tmp_path):
    (tmp_path / "file").write_text("")
    assert unwritable(tmp_path / "new" / "deeper") is None and not (tmp_path / "new").exists()
    assert "is a file, not a folder" in unwritable(tmp_path / "file" / "sub")
    with pytest.raises(FolderError, match="REPORT_DIR: .* cannot be written .*point REPORT_DIR at another folder"):
        check_writable({"STATE_DIR": tmp_path, "REPORT_DIR": tmp_path / "file" / "sub"})
    if os.geteuid() != 0:
        (tmp_path / "ro").mkdir(mode=0o500)
        assert "Permission denied" in unwritable(tmp_path / "ro")


@pytest.mark.parametrize("make, words", [
    (lambda d: (d / "005_dir.sql").mkdir(), "005_dir.sql is a folder, not a file"),
    (lambda d: (d / "005_link.sql").symlink_to(d / "gone"), "005_link.sql is a symbolic link to"),
    (lambda d: (d / "005_nul.sql").write_bytes(b"SELECT 1;\n'\0'"), "005_nul.sql line 2 contains a NUL byte"),
])
def test_unreadable_migration_entries_are_told_apart(tmp_path, make, words):
    make(tmp_path)
    with pytest.raises(MigrationFileError) as raised:
        read_migrations(Path(tmp_path))
    assert words in str(raised.value) and "permissions" not in str(raised.value)


@pytest.mark.parametrize("url, what", [("postgres://a%0Ab:p@db.example.com/x", "user name"),
                                       ("postgres://a:p@db.example.com/d%0Db", "database name")])
def test_a_line_break_anywhere_in_the_url_is_refused_by_name(url, what):
    with pytest.raises(UrlError, match=f"the {what} contains a line break"):
        parse_database_url(url)
