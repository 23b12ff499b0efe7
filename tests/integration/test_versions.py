"""
The target's PostgreSQL major version, as a user's migration crosses it (issue 14): source 15 →
target 16 and 17 with TARGET_DATABASE_URL. Real clusters only: the sandbox's source (15) and target
(17), and a PostgreSQL 16 target the sandbox starts on demand (``sandbox.up_target(16)``).
"""

from __future__ import annotations

import json
import secrets

import psycopg
import pytest
from psycopg import sql

import sandbox as sb
from tests.support import report_rows, sandbox_urls, with_dbname

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters


@pytest.fixture(scope="module")
def target16_url(sandbox) -> str:
    return sb.up_target(16)


def _database(cluster: str, action: str, name: str) -> None:
    with psycopg.connect(sb.admin_conninfo(cluster, "postgres"), autocommit=True) as conn:
        if action == "create":
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER whynot_owner").format(sql.Identifier(name)))
        else:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.mark.parametrize("major", [16, 17])
def test_a_target_of_each_heroku_major_converges_with_its_own_pg_dump(project, request, major):
    """pg_dump at least the server's major, and never one that a 16 server rejects: the target backup
    of a 16 target is taken by pg_dump 16, of a 17 target by pg_dump 17; the rerun changes nothing.
    (The first deploy finds the target empty and dumps nothing: the backup before migration 005 is
    the target's first pg_dump.)"""
    cluster, url = (
        ("target16", request.getfixturevalue("target16_url")) if major == 16 else ("target", sandbox_urls()["target"])
    )
    name = f"v_{secrets.token_hex(4)}"
    _database(cluster, "create", name)
    try:
        project.target_url = with_dbname(url, name)
        first = project.deploy()
        assert first.code == 0, first.output[-3000:]
        assert f"PostgreSQL {major}." in first.output
        assert not list((project.tmp / "backups" / "target").glob("*.dump"))  # an empty target: a record
        project.write_migration("005_audit.sql", "CREATE TABLE audit (id int PRIMARY KEY);\n")
        second = project.deploy()
        assert second.code == 0, second.output[-3000:]
        (dump,) = (project.tmp / "backups" / "target").glob("*.dump")
        assert json.loads(dump.with_suffix(".json").read_text())["pg_dump_version"] == major
        again = project.deploy()
        assert again.code == 0 and again.changed() == [], again.operations()

        # The target's own backup (pg_dump 16) restored into 16 by pg_restore 16: a 17 pg_restore would
        # send SET transaction_timeout, which PostgreSQL 16 rejects. (A backup of another database, the
        # source's, is refused by restore.py whatever its version.)
        if major == 16:
            restored = project.restore(f"backup={dump}", f"confirm={name}")
            assert restored.code == 0, restored.output[-3000:]
            assert "transaction_timeout" not in restored.output
    finally:
        _database(cluster, "drop", name)


def test_a_not_null_domain_proven_on_15_verifies_on_a_17_target(project):
    """PostgreSQL 17 records a domain's NOT NULL in pg_constraint too (15 only in pg_type): the schema
    check of a 17 target against the expected schema proven on the 15 source found drift that was not
    there. The deploy converges, and the rerun changes nothing."""
    project.write_migration(
        "005_domain.sql",
        "CREATE DOMAIN positive_int AS int NOT NULL CHECK (VALUE > 0);\n"
        "CREATE TABLE scores (id int PRIMARY KEY, points positive_int);\n",
    )
    first = project.deploy()
    assert first.code == 0, first.output[-3000:]
    assert report_rows(project.tmp / "reports")["Schema verified"][0] == "converged"
    again = project.deploy()
    assert again.code == 0 and again.changed() == [], again.operations()
