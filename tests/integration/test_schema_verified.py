"""
Schema verified and the validation report, through the real pyinfra CLI against the sandbox:
a drifted target fails with a readable diff and nothing changes; extra objects can be allowed;
VERIFY_AGAINST_SOURCE compares with the source database too.
"""

import json
import secrets

import psycopg
import pytest
from psycopg import sql

import sandbox
from tasks.migrations.engine import apply_migrations
from tasks.migrations.files import read_migrations
from tasks.migrations.session import Limits
from tests.support import MIGRATIONS, catalog_and_data, query, sandbox_urls, with_dbname

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters


def test_index_added_by_hand_fails_the_run_with_its_diff_line_and_changes_nothing(project):
    assert project.deploy().code == 0
    query(project.target_db, "CREATE INDEX messages_body_idx ON messages (body)")
    before = catalog_and_data(project.target_db)
    result = project.deploy()
    assert result.code != 0
    assert "+ index messages_body_idx ON public.messages (body)" in result.output
    assert "ALLOW_EXTRA_OBJECTS" in result.output
    assert catalog_and_data(project.target_db) == before

    dry = project.dry()  # nothing pending: the drift is shown at plan time
    assert dry.code != 0 and "+ index messages_body_idx" in dry.output

    allowed = project.deploy(ALLOW_EXTRA_OBJECTS="true")
    assert allowed.code == 0, allowed.output[-2000:]
    assert "allowed by ALLOW_EXTRA_OBJECTS" in allowed.output


def test_missing_column_fails_even_when_extra_objects_are_allowed(project):
    assert project.deploy().code == 0
    query(project.target_db, "ALTER TABLE room_participants DROP COLUMN last_read_at")
    result = project.deploy(ALLOW_EXTRA_OBJECTS="true")
    assert result.code != 0
    assert "- column room_participants.last_read_at timestamp with time zone" in result.output


def test_validation_report_lists_tables_keys_indexes_triggers_and_rows(project):
    result = project.deploy(REPORT_DIR=str(project.tmp / "reports"))
    assert result.code == 0, result.output[-2000:]
    report = json.loads((project.tmp / "reports" / "latest-validation.json").read_text())
    assert {(t["table"], t["rows"]) for t in report["tables"]} == {
        ("public.messages", 0), ("public.room_participants", 2), ("public.rooms", 2), ("public.users", 1)}
    assert report["schema_matches"] is True
    assert {"table": "public.users", "rows": 1} in report["tables"]
    assert {"table": "public.messages", "constraint": "messages_room_id_fkey", "columns": "room_id",
            "references": "rooms"} in report["foreign_keys"]
    assert {"table": "public.users", "trigger": "users_set_updated_at"} in report["triggers"]
    assert any(i["index"] == "public.messages_room_id_created_at_idx" for i in report["indexes"])
    text = json.dumps(report)
    for url in sandbox_urls().values():
        assert url.split(":")[2].split("@")[0] not in text  # no password


def test_verify_against_source_catches_a_source_that_moved_on(project):
    name = f"s_{secrets.token_hex(4)}"
    with psycopg.connect(sandbox.admin_conninfo("source", "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        apply_migrations(sandbox.admin_conninfo("source", name), read_migrations(MIGRATIONS), None, Limits())
        project.source_url = with_dbname(sandbox_urls()["source"], name)
        assert project.deploy(VERIFY_AGAINST_SOURCE="true").code == 0
        query(name, "ALTER TABLE users ADD COLUMN nickname text", which="source")
        result = project.deploy(VERIFY_AGAINST_SOURCE="true")
        assert result.code != 0
        assert "the target schema differs from the source database" in result.output
        assert "- column users.nickname text" in result.output
    finally:
        with psycopg.connect(sandbox.admin_conninfo("source", "postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
