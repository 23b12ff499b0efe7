"""A pooler recognised by what it answers, refused with the direct URL to use."""

from tasks.risk.pooler import refusal, startup_refused


def test_same_pid_is_a_direct_session():
    assert refusal("db", 4242, 4242, 5432, None) is None


def test_a_pooler_is_refused_with_the_way_on():
    plain = refusal("postgres://u:***@h:6432/d", 1, 4242, 6432, None)
    assert "connection pooler" in plain and "port 6432 is PgBouncer's" in plain and "direct URL" in plain
    heroku = refusal("Heroku app a", 1, 4242, None, "a")
    assert "pg:connection-pooling:attach --as DATABASE_CONNECTION_POOL" in heroku


def test_startup_refused_only_for_pgbouncers_answer():
    assert startup_refused("db", "FATAL:  unsupported startup parameter: options", None, None)
    assert startup_refused("db", "password authentication failed", None, None) is None
