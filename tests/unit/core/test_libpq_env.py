"""Which names are libpq's, and what the run's environment keeps of them. Pure."""

from tasks.core.libpq_env import TOOL_SETS, is_libpq_variable, withdraw_libpq_variables


def test_every_pg_capital_name_is_withdrawn_and_the_tools_own_set():
    environ = {"PGHOSTADDR": "10.0.0.9", "PGCLIENTENCODING": "LATIN1", "PGFUTUREOPTION": "x", "PG_BINDIRS": "/opt/pg",
               "PATH": "/bin", "PGSERVICEFILE": "/mine"}
    removed = withdraw_libpq_variables(environ, keep=("PGSERVICEFILE",))
    assert removed == ["PGCLIENTENCODING", "PGFUTUREOPTION", "PGHOSTADDR"]
    assert environ == {"PG_BINDIRS": "/opt/pg", "PATH": "/bin", "PGSERVICEFILE": "/mine", **TOOL_SETS}


def test_names():
    assert is_libpq_variable("PGTZ") and is_libpq_variable("PGCONNECT_TIMEOUT")
    assert not is_libpq_variable("PG_BINDIRS") and not is_libpq_variable("PGx") and not is_libpq_variable("APGHOST")
