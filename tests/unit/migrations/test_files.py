"""
Statements PostgreSQL refuses inside a transaction block (its ``PreventInTransactionBlock()`` callers)
are classified with VACUUM: refused in a transaction file with the way forward, accepted in a
``-- pgconverge:no-transaction`` file. Pure (pglast).
"""

from __future__ import annotations

import pytest

from tasks.migrations.files import NO_TRANSACTION, MigrationFileError, _check_statements
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
