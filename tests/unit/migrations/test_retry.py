"""Lock retries: full-jitter backoff bounded by the time left, the tables a statement names."""

from tasks.migrations.retry import describe_holders, pause, relations
from tasks.migrations.sqlsplit import split_statements


def test_pause_grows_and_stays_within_the_time_left():
    assert [pause(n, 100, lambda: 1.0) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert pause(5, 0.3, lambda: 1.0) == 0.3 and pause(3, 100, lambda: 0.0) == 0.0


def test_relations_of_a_statement():
    (statement,) = split_statements("ALTER TABLE public.users ADD FOREIGN KEY (r) REFERENCES rooms (id)")
    assert relations(statement.node) == ["public.users", "rooms"]


def test_holders_line():
    assert describe_holders([(12, "app", "idle in transaction", 4)]) == "pid 12 (app, idle in transaction, 4 s)"
    assert "state not visible" in describe_holders([(12, "app", "", None)])


def test_a_retrys_lock_timeout_is_capped_by_the_time_left():
    from tasks.migrations.retry import capped

    assert capped("5s", 60) == "5000ms" and capped("5s", 1.25) == "1250ms" and capped("500ms", 0.0001) == "1ms"
    assert capped("0", 1) == "0"  # no limit: kept (no retry follows a wait without end)
