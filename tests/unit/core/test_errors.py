"""Any exception becomes one line naming the cause and the way forward (pure; real psycopg error classes)."""

import errno

import psycopg
import pytest

from tasks.core.errors import ActionableError, describe
from tasks.core.settings import SettingsError
from tasks.migrations.failures import MigrationError


def test_an_actionable_error_is_its_own_first_line():
    assert describe(SettingsError("BACKUP_KEEP: 'x' is not a number: set BACKUP_KEEP=10\nmore")) == (
        "BACKUP_KEEP: 'x' is not a number: set BACKUP_KEEP=10")
    assert issubclass(MigrationError, ActionableError)


@pytest.mark.parametrize("error, words", [
    (psycopg.errors.InsufficientPrivilege("permission denied for schema public\nLINE 2: CREATE"),
     "the role lacks a privilege: permission denied for schema public: grant it"),
    (psycopg.errors.DiskFull("could not extend file"), "the database server's disk is full: could not extend file"),
    (psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
     "the server ended the session (pg_terminate_backend, or a shutdown)"),
    (psycopg.OperationalError("server closed the connection unexpectedly"),
     "the connection to the database was lost: server closed the connection unexpectedly: run again"),
    (psycopg.errors.UndefinedTable("relation \"x\" does not exist"), "the database refused a statement"),
])
def test_a_database_error_is_named_by_its_cause(error, words):
    line = describe(error)
    assert words in line and "\n" not in line


@pytest.mark.parametrize("code, words", [
    (errno.ENOSPC, "reports/latest.json: no space left on the device"),
    (errno.EROFS, "the file system is read-only: point the setting at a writable folder"),
    (errno.EACCES, "permission denied"),
])
def test_an_os_error_names_the_file_and_the_fix(code, words):
    assert words in describe(OSError(code, "strerror", "reports/latest.json"))


def test_anything_else_points_at_debug_without_a_traceback():
    line = describe(ValueError("too many values to unpack (expected 4)\nsecond line"))
    assert line == ("unexpected ValueError: too many values to unpack (expected 4): "
                    "run again with --debug for the traceback and report it")
