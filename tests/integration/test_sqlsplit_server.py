"""
The splitter against an oracle we do not control (issue 16.3): the real PostgreSQL server runs each
generated file whole (its own split, in one simple-query message) and piece by piece (ours); both give
the same statements' results, which are the values the file was made of.
"""

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings

import sandbox
from tasks.migrations.sqlsplit import split_statements
from tests.sqlgen import sql_file

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters


def _server_split(conn, sql: str) -> list[str]:
    cursor = conn.cursor()
    cursor.execute(sql.encode())  # no parameters: the simple query protocol, the server splits
    values = []
    while True:
        values.append(cursor.fetchone()[0])
        if not cursor.nextset():
            return values


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(example=sql_file())
def test_generated_files_split_as_the_server_splits_them(sandbox, example):
    sql, expected = example
    with psycopg.connect(sandbox_conninfo(), autocommit=True) as conn:
        conn.execute("SET client_min_messages = error")  # identifiers longer than 63 bytes are truncated
        whole = _server_split(conn, sql)
        ours = [conn.execute(s.text.encode()).fetchone()[0] for s in split_statements(sql)]
    assert ours == whole == [value for _, _, value in expected]


def sandbox_conninfo():
    return sandbox.admin_conninfo("source", "postgres")
