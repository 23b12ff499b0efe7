"""Reading migration files: names, versions, checksums and the errors found before connecting (pure)."""

import pytest

from tasks.migrations.files import MigrationFileError, read_migrations, set_checksum


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
        ({"001_a.sql": "CREATE TABLE t (id int);\nCREATE INDEX CONCURRENTLY i ON t (id);"}, "cannot run inside a transaction"),
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
    write(tmp_path, "001_idx.sql", "-- pgconverge:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (id);\n")
    (migration,) = read_migrations(tmp_path)
    assert migration.no_transaction and len(migration.statements) == 1


def test_set_checksum_changes_with_any_file(tmp_path):
    write(tmp_path, "001_a.sql", "SELECT 1;")
    before = set_checksum(read_migrations(tmp_path))
    write(tmp_path, "002_b.sql", "SELECT 2;")
    assert set_checksum(read_migrations(tmp_path)) != before


def test_a_version_in_full_width_digits_is_refused_with_the_file_named():
    from tasks.migrations.files import parse_file_name

    with pytest.raises(MigrationFileError, match="migration file ００７_full.sql does not match NNN_name.sql"):
        parse_file_name("００７_full.sql")
    assert parse_file_name("007_full.sql") == (7, "full")
