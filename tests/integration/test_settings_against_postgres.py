"""
A timeout setting is accepted exactly when PostgreSQL accepts it: property-based, each generated
value also tried with ``SET lock_timeout`` on the real sandbox target.
"""

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks.core.settings import SettingsError, load_settings
from tests.support import admin

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

NUMBER = st.one_of(
    st.integers(min_value=0, max_value=10**13).map(str),
    st.tuples(st.integers(0, 10**10), st.integers(0, 999)).map(lambda p: f"{p[0]}.{p[1]}"),
    st.sampled_from(["2147483647", "2147483648", "2147483647.4", "2147483647.5", "24", "25"]),
)
DURATION = st.tuples(NUMBER, st.sampled_from(["", "us", "ms", "s", "min", "h", "d"])).map("".join)


@pytest.fixture(scope="module")
def session(sandbox):
    with admin() as conn:
        yield conn


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=DURATION)
def test_a_timeout_is_accepted_exactly_when_postgresql_accepts_it_as_a_limit(session, tmp_path, value):
    (tmp_path / "files" / "migrations").mkdir(parents=True, exist_ok=True)
    try:
        shown = session.execute("SELECT set_config('lock_timeout', %s, false)", (value,)).fetchone()[0]
        # A non-zero value PostgreSQL rounds to 0 would silently mean "no limit": refused on purpose.
        postgres_accepts = shown != "0" or float(value.rstrip("usmindh")) == 0
    except psycopg.errors.InvalidParameterValue:
        postgres_accepts = False
    try:
        load_settings({"TARGET_DATABASE_URL": "postgres://u:p@localhost/x", "MIGRATION_LOCK_TIMEOUT": value}, tmp_path)
        we_accept = True
    except SettingsError as exc:
        assert str(exc).startswith("MIGRATION_LOCK_TIMEOUT: ")
        we_accept = False
    assert we_accept == postgres_accepts, value
