"""
The shadow proof runs with the target's privileges (issue 16.6): as a role that is not a superuser and
owns the shadow database, so what Heroku's owner role may not do fails in the proof, before any backup
or change, and never runs on the source's host.
"""

import pytest

from tests.support import catalog_and_data, query

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters


@pytest.mark.parametrize("body, words", [
    ("ALTER TABLE users OWNER TO postgres;\n", 'role "postgres"'),
    ("CREATE TABLE loot (line text);\nCOPY loot FROM PROGRAM 'touch {ran}';\n", "external program"),
])
def test_what_the_target_refuses_fails_in_the_proof_before_any_backup(project, body, words):
    ran = project.tmp / "ran"
    assert project.deploy().code == 0
    project.write_migration("005_superuser_only.sql", body.format(ran=ran))
    before = catalog_and_data(project.target_db)
    backups = sorted((project.tmp / "backups" / "target").glob("*.dump"))
    result = project.deploy()
    assert result.code != 0
    assert "migration 005_superuser_only.sql" in result.output and words in result.output, result.output[-2000:]
    assert "throw-away shadow database, run as a role that is not a superuser" in result.output
    assert not ran.exists(), "COPY FROM PROGRAM ran a program on the source's host"
    assert sorted((project.tmp / "backups" / "target").glob("*.dump")) == backups  # stopped before the backup
    assert catalog_and_data(project.target_db) == before
    assert query("postgres", "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'pgconverge\\_shadow\\_%'",
                 which="source") == [(0,)]
