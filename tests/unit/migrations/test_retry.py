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
