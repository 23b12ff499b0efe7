"""
The pure parts of tasks/core/waits.py and tasks/core/progress.py: how a lock's holder is named, what
is retried (a lock timeout, nothing else), how often, and how a watched statement is described.
"""

from __future__ import annotations

import errno

import psycopg
import pytest

from tasks.core import progress, waits
from tasks.core.errors import describe


def lock_timeout() -> psycopg.Error:
    return psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")


def test_a_lock_timeout_is_retried_with_growing_pauses_then_names_the_holder():
    tries, pauses, said = [], [], []

    def attempt() -> None:
        tries.append(1)
        raise lock_timeout()

    with pytest.raises(waits.LockWaitError) as raised:
        waits.retrying(attempt, "copying public.users", lambda: 'pid 7 (application_name "web")', said.append,
                       sleep=pauses.append)
    assert len(tries) == waits.ATTEMPTS and pauses == [1.0, 2.0, 4.0]
    assert str(raised.value).startswith('copying public.users: waited 4 times 2s for a lock held by pid 7 '
                                        '(application_name "web")')
    assert len(said) == 3 and "retrying in 1s (1/3)" in said[0]


def test_what_ends_once_the_lock_is_free_is_returned_and_other_errors_go_through():
    outcomes = [lock_timeout(), "done"]

    def attempt() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert waits.retrying(attempt, "x", lambda: "", lambda line: None, sleep=lambda s: None) == "done"
    with pytest.raises(psycopg.errors.UniqueViolation):
        waits.retrying(lambda: (_ for _ in ()).throw(psycopg.errors.UniqueViolation("dup")), "x", lambda: "",
                       lambda line: None, sleep=lambda s: None)


def test_psql_s_text_of_a_lock_timeout_is_recognised():
    assert waits.is_lock_timeout(RuntimeError("psql:<stdin>:9: ERROR:  canceling statement due to lock timeout"))
    assert not waits.is_lock_timeout(RuntimeError("canceling statement due to statement timeout"))


def test_holders_are_named_once_each_with_their_tables():
    rows = [(12, "web", "idle in transaction", 40, "public.users"),
            (12, "web", "idle in transaction", 40, "public.rooms"),
            (13, "no application_name", None, None, "public.users")]
    text = waits.describe_holders(rows)
    assert text == ('pid 12 (application_name "web", idle in transaction for 40s, holding public.users, public.rooms); '
                    'pid 13 (application_name "no application_name", state not visible to this role, '
                    'holding public.users)')
    assert waits.describe_holders([]) == "a session that has ended since"


@pytest.mark.parametrize("activity, blockers, words", [
    (("active", "Lock", "relation", [9]), [(9, "web", "idle in transaction", 30)],
     'waiting on a lock held by pid 9 (application_name "web", idle in transaction for 30s)'),
    (("active", "Timeout", "PgSleep", []), [], "running (waiting on Timeout: PgSleep)"),
    (("active", None, None, []), [], "running"),
    (None, [], "running"),
])
def test_a_watched_statement_is_described_by_what_it_waits_on(activity, blockers, words):
    assert progress.describe(activity, blockers) == words


def test_a_full_disk_without_a_file_name_names_the_places_to_look():
    line = describe(OSError(errno.ENOSPC, "No space left on device"))
    assert "BACKUP_DIR" in line and "TMPDIR" in line and "free space there" not in line


def test_a_position_in_a_files_message_is_mapped_to_its_statement():
    from tasks.migrations.apply_file import statement_at

    starts = [40, 120, 300]
    assert statement_at(starts, "41") == 0 and statement_at(starts, "121") == 1 and statement_at(starts, "999") == 2
    assert statement_at(starts, "10") is None and statement_at(starts, None) is None and statement_at([], "5") is None


def test_a_long_transfer_ends_on_its_last_line_and_a_short_one_says_nothing():
    """A copy that said how far it was says where it ended (all tables done); one that was over before
    the first line says nothing, even at its end."""
    lines: list[str] = []
    short = progress.Throughput("copy", 2, 10_000_000, lines.append, quiet_s=60)
    short.moved(4_000_000)
    short.table_done()
    short.finished()
    assert lines == []
    long = progress.Throughput("copy", 2, 10_000_000, lines.append, quiet_s=0, every_s=60)
    long.moved(4_000_000)  # the first line: due at once
    long.moved(6_000_000)
    long.table_done()
    long.table_done()  # not due again for 60 s
    assert len(lines) == 1
    long.finished()
    assert len(lines) == 2 and lines[-1].startswith("copy: 2/2 tables, 10 of 10 MB (100%)")


def test_a_transfer_whose_rows_took_fewer_bytes_than_its_tables_ends_at_the_whole():
    """Adversary pass 2 on issue 30: the copy ended on "14/14 tables, 97 of 117 MB (83%)": the total is
    the tables' size on disk, the bytes the rows' stream. Once every table is done, its last line says
    the whole; one with a table not done stays where it is."""
    lines: list[str] = []
    done = progress.Throughput("copy", 2, 10_000_000, lines.append, quiet_s=0, every_s=60)
    done.moved(8_000_000)
    done.table_done()
    done.table_done()
    done.finished()
    assert lines[-1].startswith("copy: 2/2 tables, 10 of 10 MB (100%)")
    lines.clear()
    short = progress.Throughput("copy", 2, 10_000_000, lines.append, quiet_s=0, every_s=60)
    short.moved(8_000_000)
    short.table_done()
    short.finished()
    assert lines[-1].startswith("copy: 1/2 tables, 8 of 10 MB (80%)")
