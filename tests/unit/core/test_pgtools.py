"""Which pg_dump/pg_restore runs against which server (tasks/core/pgtools.py, pure)."""

from pathlib import Path

from tasks.core.pgtools import ToolSet, choose, missing_message, parse_version

SETS = (ToolSet(15, Path("/usr/lib/postgresql/15/bin")), ToolSet(16, Path(".tools/pg16/bin")),
        ToolSet(17, Path(".tools/pg17/bin")))


def test_each_server_gets_the_oldest_tools_at_least_as_new_as_itself():
    assert [choose(SETS, major).major for major in (14, 15, 16, 17)] == [15, 15, 16, 17]


def test_a_16_server_never_gets_17_tools_when_16_is_installed():
    """A 17 pg_dump/pg_restore emits SET transaction_timeout, which a 16 server rejects."""
    assert choose(SETS, 16).major == 16
    assert choose((SETS[0], SETS[2]), 16).major == 17, "older than the server is never an option"


def test_a_server_newer_than_every_installed_set_has_none_and_the_message_says_make_setup():
    assert choose(SETS[:1], 17) is None
    message = missing_message("app db", 17, SETS[:1])
    assert "PostgreSQL 17" in message and "installed: 15" in message and "make setup" in message


def test_version_lines_of_debian_and_the_relocatable_builds_are_read():
    assert parse_version("pg_dump (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)") == 15
    assert parse_version("pg_dump (PostgreSQL) 17.11") == 17
