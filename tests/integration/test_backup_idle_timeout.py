"""
A role-level ``idle_in_transaction_session_timeout`` (a common production guard) does not end the
backup's snapshot-holding session while pg_dump reads from it (issue 29 class 3): the holder sets its
own. Real PostgreSQL, the role's setting made by ``ALTER ROLE … IN DATABASE … SET``.
"""

from __future__ import annotations

import psycopg
import pytest

from tasks.backups import dump
from tests.copy_support import migrate_target
from tests.support import admin, query

pytestmark = pytest.mark.cluster


def test_a_role_idle_in_transaction_timeout_does_not_break_the_backup(services, tmp_path):
    migrate_target(services.target_url)
    query(services.target_db, "SET ROLE whynot_owner; INSERT INTO users (email, display_name) "
          "SELECT 'u' || g || '@x', 'U' FROM generate_series(1, 20000) g")
    with psycopg.connect(services.target_url, autocommit=True) as conn:
        role = conn.execute("SELECT current_user").fetchone()[0]
    setting = f'ALTER ROLE "{role}" IN DATABASE "{services.target_db}"'
    with admin("target", services.target_db) as conn:
        conn.execute(f"{setting} SET idle_in_transaction_session_timeout = '50ms'")
    try:
        backup = dump.take_backup("target", tmp_path / "target", "target", None, lambda line: None)
    finally:
        with admin("target", services.target_db) as conn:
            conn.execute(f"{setting} RESET idle_in_transaction_session_timeout")
    assert backup.manifest["rows"]["public.users"] == 20000
