"""
Lock retries end within LOCK_RETRY_S (issue 27, item 3): the last retry's lock_timeout used to be the
whole MIGRATION_LOCK_TIMEOUT, so a retry started just before the deadline ran a full timeout past it.
PostgreSQL is the oracle: a second session holds the table's lock throughout.
"""

from __future__ import annotations

import time

import pytest

from tests.support import admin, create_target_db, drop_db, sandbox_urls, with_dbname

pytestmark = pytest.mark.cluster


def test_retries_end_within_lock_retry_s_with_a_lock_held(tmp_path):
    from tasks.migrations.engine import Limits, MigrationError, apply_migrations
    from tasks.migrations.files import read_migrations

    (tmp_path / "001_t.sql").write_text("CREATE TABLE t (id int);\n")
    name = create_target_db()
    try:
        url = with_dbname(sandbox_urls()["target"], name)
        apply_migrations(url, read_migrations(tmp_path), None, Limits())
        (tmp_path / "002_note.sql").write_text("ALTER TABLE t ADD COLUMN note text;\n")
        with admin("target", name) as app:
            app.execute("BEGIN")
            app.execute("SELECT count(*) FROM t")  # idle in a transaction holding ACCESS SHARE
            lines: list[str] = []
            started = time.monotonic()
            with pytest.raises(MigrationError, match="lock") as failed:
                apply_migrations(
                    url, read_migrations(tmp_path), None, Limits(lock_timeout="4s", lock_retry_s=5), lines.append
                )
            elapsed = time.monotonic() - started
            blocker = app.info.backend_pid
            app.execute("ROLLBACK")
        # the last message says the retries were spent and names the session that held the lock (finding 8)
        assert "LOCK_RETRY_S=5 s" in str(failed.value) and f"held by pid {blocker} (" in str(failed.value)
        assert any("lock not granted, retry 1" in line for line in lines), lines
        # the first try waits its full 4 s; every retry only what is left of the 5 s: one second of slack
        assert elapsed <= 5 + 1.0, elapsed
    finally:
        drop_db(name)
