"""
Statements PostgreSQL refuses inside a transaction block (its ``PreventInTransactionBlock()`` callers)
are classified with VACUUM: refused in a transaction file with the way forward, accepted in a
``-- pgconverge:no-transaction`` file. Pure (pglast).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.migrations.files import NO_TRANSACTION, MigrationFileError, _check_statements, read_migrations, set_checksum
from tasks.migrations.sqlsplit import split_statements

OUTSIDE_ONLY = [
    ("REINDEX DATABASE app;", "REINDEX DATABASE"),
    ("REINDEX SYSTEM app;", "REINDEX SYSTEM"),
    ("REINDEX SCHEMA public;", "REINDEX SCHEMA"),
    ("REINDEX TABLE CONCURRENTLY users;", "REINDEX CONCURRENTLY"),
    ("CLUSTER;", "CLUSTER of every table"),
    ("VACUUM users;", "VACUUM"),
    ("CREATE DATABASE other;", "CREATE DATABASE"),
    ("ALTER SYSTEM SET work_mem = '8MB';", "ALTER SYSTEM"),
    ("ALTER DATABASE app SET TABLESPACE fast;", "ALTER DATABASE ... SET TABLESPACE"),
    ("ALTER TABLE events DETACH PARTITION events_2020 CONCURRENTLY;", "DETACH PARTITION ... CONCURRENTLY"),
    ("CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p;", "CREATE SUBSCRIPTION"),
    ("ALTER SUBSCRIPTION s REFRESH PUBLICATION;", "ALTER SUBSCRIPTION ... REFRESH PUBLICATION"),
]
INSIDE_OK = ["REINDEX TABLE users;", "REINDEX INDEX users_pkey;", "CLUSTER users USING users_pkey;", "ANALYZE users;",
             "ALTER DATABASE app CONNECTION LIMIT 50;", "ALTER TABLE events DETACH PARTITION events_2020;",
             "CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p WITH (connect = false);"]


@pytest.mark.parametrize("sql, what", OUTSIDE_ONLY)
def test_what_cannot_run_in_a_transaction_needs_a_no_transaction_file(sql, what):
    with pytest.raises(MigrationFileError) as caught:
        _check_statements("007_maintenance.sql", False, split_statements("SELECT 1;\n" + sql + "\n"))
    assert str(caught.value) == (f"migration 007_maintenance.sql line 2: {what}"
                                 + str(caught.value).split(what, 1)[1])
    assert "cannot run inside a transaction" in str(caught.value) and NO_TRANSACTION in str(caught.value)
    _check_statements("007_maintenance.sql", True, split_statements(sql + "\n"))  # accepted on its own


@pytest.mark.parametrize("sql", INSIDE_OK)
def test_what_runs_in_a_transaction_is_accepted_in_one(sql):
    _check_statements("007_maintenance.sql", False, split_statements(sql + "\n"))




def write(folder, name, text, mode="w"):
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_versions_are_numbers_and_sorted(tmp_path):
    write(tmp_path, "10_ten.sql", "SELECT 10;")
    write(tmp_path, "002_two.sql", "SELECT 2;")
    write(tmp_path, "README.md", "not a migration")
    found = read_migrations(tmp_path)
    assert [(m.version, m.name) for m in found] == [(2, "two"), (10, "ten")]


def test_checksum_ignores_crlf_and_bom(tmp_path):
    a = write(tmp_path, "001_a.sql", b"SELECT 1;\nSELECT 2;\n")
    other = tmp_path / "other"
    other.mkdir()
    write(other, "001_a.sql", b"\xef\xbb\xbfSELECT 1;\r\nSELECT 2;\r\n")
    assert read_migrations(tmp_path)[0].checksum == read_migrations(other)[0].checksum
    a.write_bytes(b"SELECT 1;\nSELECT 3;\n")
    assert read_migrations(tmp_path)[0].checksum != read_migrations(other)[0].checksum


@pytest.mark.parametrize(
    "files, message",
    [
        ({"001_a.sql": "SELECT 1;", "1_b.sql": "SELECT 2;"}, "same version 1"),
        ({"abc.sql": "SELECT 1;"}, "does not match NNN_name.sql"),
        ({"001_a.sql": "-- only a comment\n"}, "is empty"),
        ({"001_a.sql": b"\xff\xfe bad"}, "not UTF-8"),
        ({"001_a.sql": "BEGIN;\nCREATE TABLE t (id int);\nCOMMIT;"}, "line 1: BEGIN is not allowed"),
        (
            {"001_a.sql": "CREATE TABLE t (id int);\nCREATE INDEX CONCURRENTLY i ON t (id);"},
            "cannot run inside a transaction",
        ),
        ({"001_a.sql": "-- pgconverge:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (id);"}, "safe to re-run"),
        ({"001_a.sql": "\\set x 1\nSELECT 1;"}, "psql meta-command"),
    ],
)
def test_bad_files_are_refused_with_the_file_named(tmp_path, files, message):
    for name, text in files.items():
        write(tmp_path, name, text)
    with pytest.raises(MigrationFileError) as raised:
        read_migrations(tmp_path)
    assert message in str(raised.value)
    assert ".sql" in str(raised.value)


def test_unreadable_file(tmp_path):
    import os

    path = write(tmp_path, "001_a.sql", "SELECT 1;")
    path.chmod(0)
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    with pytest.raises(MigrationFileError, match="cannot be read"):
        read_migrations(tmp_path)


def test_no_transaction_marker(tmp_path):
    write(
        tmp_path, "001_idx.sql", "-- pgconverge:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (id);\n"
    )
    (migration,) = read_migrations(tmp_path)
    assert migration.no_transaction and len(migration.statements) == 1


def test_set_checksum_changes_with_any_file(tmp_path):
    write(tmp_path, "001_a.sql", "SELECT 1;")
    before = set_checksum(read_migrations(tmp_path))
    write(tmp_path, "002_b.sql", "SELECT 2;")
    assert set_checksum(read_migrations(tmp_path)) != before


def test_a_commit_hidden_behind_a_non_bmp_dollar_tag_is_refused(tmp_path):
    """Issue 16.3: the old splitter read past ``$😀$`` and ran the COMMIT inside the file's transaction."""
    write(
        tmp_path,
        "001_a.sql",
        "CREATE TABLE t (id int);\nDO $😀$ BEGIN PERFORM 1; END $😀$;\nCOMMIT;\nCREATE TABLE u (id int);\n",
    )
    with pytest.raises(MigrationFileError, match=r"migration 001_a.sql line 3: COMMIT is not allowed"):
        read_migrations(tmp_path)


def test_pg_dump_restrict_line_after_the_header_is_refused_with_its_line(tmp_path):
    """Issue 16.5: pg_dump 15.18 writes ``\\restrict KEY`` after its header comments."""
    header = "--\n-- PostgreSQL database dump\n--\n\n\\restrict 7dUq1cJ0\n\n-- Dumped from database version 15.18\n"
    write(tmp_path, "001_dump.sql", header + "SET statement_timeout = 0;\nCREATE TABLE t (id int);\n")
    with pytest.raises(
        MigrationFileError, match=r"migration 001_dump.sql line 5: psql meta-command \\restrict is not SQL"
    ):
        read_migrations(tmp_path)


def test_failure_lines_count_from_the_statement_not_the_comment_before_it(tmp_path):
    """Issue 16.4: a statement on line 26 after a comment block starting on line 19 is on line 26."""
    text = (
        "".join(f"CREATE TABLE t{i} (id int);\n" for i in range(18)) + "-- explain\n" * 7 + "CREATE INDEX ON t1 (id);\n"
    )
    write(tmp_path, "001_a.sql", text)
    (migration,) = read_migrations(tmp_path)
    assert migration.statements[-1].line == 26


HIDDEN_COMMIT = (
    "SET standard_conforming_strings = off;\n"
    "INSERT INTO s2 VALUES ('a\\', $$'); COMMIT; CREATE TABLE escaped2 (i int); SELECT 1 --$$);\n"
)


@pytest.mark.parametrize(
    "statement",
    [
        "SET standard_conforming_strings = off;",
        "SET LOCAL standard_conforming_strings TO off;",
        "SET standard_conforming_strings TO false;",
        "SELECT set_config('standard_conforming_strings', 'off', false);",
        "ALTER ROLE CURRENT_USER SET standard_conforming_strings = off;",
        "ALTER DATABASE app SET standard_conforming_strings = off;",
    ],
)
def test_a_file_that_changes_how_strings_are_parsed_is_refused_with_its_line(tmp_path, statement):
    """Defect 16/adv.1: the file is split with standard_conforming_strings on; changing it would let the
    server split it otherwise (a COMMIT hidden in a string ran on the target)."""
    write(tmp_path, "001_a.sql", f"CREATE TABLE t (i int);\n{statement}\n")
    with pytest.raises(MigrationFileError, match=r"001_a.sql line 2: changing standard_conforming_strings"):
        read_migrations(tmp_path)


def test_pg_dumps_header_turning_it_on_is_accepted(tmp_path):
    write(
        tmp_path,
        "001_a.sql",
        "SET standard_conforming_strings = on;\nSELECT set_config('standard_conforming_strings', "
        "'on', false);\nRESET standard_conforming_strings;\nCREATE TABLE t (i int);\n",
    )
    assert len(read_migrations(tmp_path)[0].statements) == 4


def test_the_hidden_commit_file_is_refused_before_anything_runs(tmp_path):
    write(tmp_path, "001_a.sql", HIDDEN_COMMIT)
    with pytest.raises(MigrationFileError, match=r"001_a.sql line 1: changing standard_conforming_strings"):
        read_migrations(tmp_path)


@pytest.mark.parametrize(
    "call", ["pg_advisory_unlock_all()", "pg_catalog.pg_advisory_unlock(1)", "pg_advisory_unlock_shared(1, 2)"]
)
def test_a_file_that_lets_go_of_the_deploy_lock_is_refused(tmp_path, call):
    """Defect 16/adv.3: releasing the advisory lock let a second deploy apply the next file twice."""
    write(tmp_path, "005_a.sql", f"CREATE TABLE t (i int);\n\nSELECT {call};\n")
    with pytest.raises(
        MigrationFileError, match=r"005_a.sql line 3: pg_advisory_unlock\w*\(\) would let go of the deploy's lock"
    ):
        read_migrations(tmp_path)


def test_begin_in_a_no_transaction_file_does_not_advise_the_marker(tmp_path):
    """Defect 16/adv.4: the file already has the marker; advising it is wrong."""
    write(tmp_path, "001_a.sql", "-- pgconverge:no-transaction\nBEGIN;\nCREATE TABLE t (i int);\n")
    with pytest.raises(MigrationFileError) as info:
        read_migrations(tmp_path)
    assert "line 2" in str(info.value) and "mark it" not in str(info.value)


def test_lines_end_at_a_lone_cr_as_in_editors(tmp_path):
    """Defect 16/adv.5: a file saved with bare CR line ends named line 1 for everything."""
    write(tmp_path, "001_a.sql", b"CREATE TABLE cr (i int);\rCREATE TABLE cr2 (i int);\rCOMMIT;\r")
    with pytest.raises(MigrationFileError, match=r"001_a.sql line 3: COMMIT"):
        read_migrations(tmp_path)
    write(tmp_path, "001_a.sql", b"CREATE TABLE cr (i int);\r\n\rCOMMIT;\n")
    with pytest.raises(MigrationFileError, match=r"001_a.sql line 3: COMMIT"):
        read_migrations(tmp_path)


def test_a_version_larger_than_bigint_is_refused_by_its_file_name(tmp_path):
    """Defect 16/adv.8: it was caught only in the proof, and blamed on the file's content."""
    write(tmp_path, "99999999999999999999_big.sql", "CREATE TABLE t (i int);")
    with pytest.raises(
        MigrationFileError, match=r"migration file 99999999999999999999_big.sql: version .* larger than"
    ):
        read_migrations(tmp_path)
    write(tmp_path, "99999999999999999999_big.sql", "")
    (tmp_path / "99999999999999999999_big.sql").rename(tmp_path / "9223372036854775807_max.sql")
    write(tmp_path, "9223372036854775807_max.sql", "CREATE TABLE t (i int);")
    assert read_migrations(tmp_path)[0].version == 2**63 - 1


def test_a_version_in_full_width_digits_is_refused_with_the_file_named():
    from tasks.migrations.files import parse_file_name

    with pytest.raises(MigrationFileError, match="migration file ００７_full.sql does not match NNN_name.sql"):
        parse_file_name("００７_full.sql")
    assert parse_file_name("007_full.sql") == (7, "full")


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda d: (d / "005_dir.sql").mkdir(), "005_dir.sql is a folder, not a file"),
        (lambda d: (d / "005_link.sql").symlink_to(d / "gone"), "005_link.sql is a symbolic link to"),
        (lambda d: (d / "005_nul.sql").write_bytes(b"SELECT 1;\n'\0'"), "005_nul.sql line 2 contains a NUL byte"),
    ],
)
def test_unreadable_migration_entries_are_told_apart(tmp_path, make, words):
    make(tmp_path)
    with pytest.raises(MigrationFileError) as raised:
        read_migrations(Path(tmp_path))
    assert words in str(raised.value) and "permissions" not in str(raised.value)
