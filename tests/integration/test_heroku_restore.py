"""
restore.py on Heroku: a backup the deploy captured (``pg:backups:capture``, with its manifest
written then) restored by id through the real ``heroku`` CLI (``pg:backups:restore b00N
DATABASE_URL --confirm APP``), then checked against that manifest. Heroku itself is a stand-in:
the real CLI talks to the local fake API of tests/heroku_fake.py, whose database is a real
PostgreSQL database on the sandbox target cluster.
"""

import json

import pytest

from tests.support import catalog_and_data

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters


@pytest.mark.long
def test_a_captured_heroku_backup_restores_by_id_to_its_exact_state_and_the_next_deploy_converges(project, source_db,
                                                                                                  heroku):
    assert project.deploy().code == 0
    before = catalog_and_data(project.target_db)
    project.write_migration("005_audit.sql", "CREATE TABLE audit (id int PRIMARY KEY);\n"
                                             "ALTER TABLE users ADD COLUMN nickname text;\n")
    result = project.deploy()
    assert result.code == 0, result.output[-3000:]
    manifests = sorted((project.tmp / "backups" / "target").glob("heroku-pgc-test-app-b*.json"))
    assert [m.name for m in manifests] == ["heroku-pgc-test-app-b001.json", "heroku-pgc-test-app-b002.json"]
    manifest = json.loads(manifests[-1].read_text())
    assert manifest["rows"]["public.schema_migrations"] == 4 and "public.audit" not in manifest["catalog"]["tables"]

    refused = project.restore("backup=b002", "confirm=someone-else")
    assert refused.code != 0 and "confirm with --data confirm=pgc-test-app" in refused.output
    unknown = project.restore("backup=b009", "confirm=pgc-test-app")
    assert unknown.code != 0 and "Heroku backup b009 of pgc-test-app has no manifest" in unknown.output
    assert "(recorded: b002, b001)" in unknown.output  # the candidates are named
    listed = project.restore()  # no backup=: the recorded Heroku backups, nothing changed
    assert listed.code == 0 and "heroku-pgc-test-app-b002.json" in listed.output and "Heroku backup" in listed.output

    restored = project.restore("backup=b002", "confirm=pgc-test-app")
    assert restored.code == 0, restored.output[-3000:]
    assert "catalog and every table's row count equal to the manifest" in restored.output
    assert "pg:backups:restore" in heroku.calls()
    assert catalog_and_data(project.target_db) == before
    # the database as it was (with audit) was captured first: restoring that one undoes the restore
    assert "the database as it was is Heroku backup b003 (restore it to undo)" in restored.output
    undo = project.restore("backup=b003", "confirm=pgc-test-app")
    assert undo.code == 0, undo.output[-3000:]
    assert "audit" in project.tables()
    assert project.restore("backup=b002", "confirm=pgc-test-app").code == 0  # and back, for the deploy below
    assert project.applied_versions() == [1, 2, 3, 4]

    again = project.deploy()
    assert again.code == 0, again.output[-3000:]
    assert project.applied_versions() == [1, 2, 3, 4, 5]
