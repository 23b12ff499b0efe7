"""
The backup a restore is restoring is never pruned under it: from the moment restore.py has chosen it
(before its plan and its prompt) until the restore is over, a deploy that would prune it (BACKUP_KEEP
lowered) leaves the folder's pruning to a later run. Through the real pyinfra CLI against the sandbox's
PostgreSQL clusters; restore.py waits at its confirmation prompt while the deploy runs.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time

import pytest

from tests.integration.test_restore import MIGRATION_005, target_dumps
from tests.support import PYINFRA, ROOT, catalog_and_data

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters


def test_a_deploy_while_a_restore_waits_does_not_prune_the_backup_being_restored(project, source_db):
    assert project.deploy().code == 0
    before = catalog_and_data(project.target_db)
    project.write_migration("005_audit.sql", MIGRATION_005)
    assert project.deploy().code == 0
    project.write_migration("006_more.sql", "ALTER TABLE audit ADD COLUMN at timestamptz;\n")
    assert project.deploy().code == 0
    chosen = target_dumps(project)[0]  # the backup taken before 005: the oldest, the first to be pruned
    assert len(target_dumps(project)) == 2

    leader, follower = pty.openpty()
    try:
        restoring = subprocess.Popen(
            [PYINFRA, "inventory.py", "restore.py", "--data", f"backup={chosen}", "--data",
             f"confirm={project.target_db}"],
            cwd=ROOT, stdin=follower, env=project.env(PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        seen, deadline = b"", time.monotonic() + 120
        while b"Press enter to execute" not in seen and time.monotonic() < deadline and restoring.poll() is None:
            if select.select([restoring.stdout], [], [], 1)[0]:
                seen += os.read(restoring.stdout.fileno(), 65536)
        assert b"Press enter to execute" in seen, seen.decode()[-3000:]

        pruned = project.deploy(BACKUP_KEEP="1")  # converged, but one backup too many: it would prune
        assert pruned.code == 0, pruned.output[-3000:]
        assert chosen.exists(), pruned.output[-3000:]

        os.write(leader, b"\n")
        output = (seen + restoring.communicate(timeout=180)[0]).decode()
    finally:
        os.close(leader)
        os.close(follower)
    assert restoring.returncode == 0, output[-3000:]
    assert catalog_and_data(project.target_db) == before

    later = project.deploy(BACKUP_KEEP="1")  # the restore is over: the next run prunes as asked
    assert later.code == 0, later.output[-3000:]
    assert not chosen.exists()
