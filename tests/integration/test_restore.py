"""
restore.py returns the target to exactly the state of the backup, through the real pyinfra CLI
against the sandbox's PostgreSQL clusters: the backup taken before migration 005 (which creates
table ``audit`` and adds ``users.nickname``) brings back tables, columns, rows and migration
history as they were, in one transaction; the next deploy then converges. A dump whose sha256
differs from its manifest is refused before the target is touched; a restore whose result would
differ from the manifest is rolled back; the dry run lists what will be dropped and restored.
"""

import json
import subprocess

import pytest

from tests.support import PYINFRA, ROOT, catalog_and_data, query

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

MIGRATION_005 = "CREATE TABLE audit (id int PRIMARY KEY, what text);\nALTER TABLE users ADD COLUMN nickname text;\n" \
                "INSERT INTO audit VALUES (1, 'created');\n"


def target_dumps(project):
    return sorted((project.tmp / "backups" / "target").glob("*.dump"))


def before_and_after_005(project):
    """Deploy 001–004 and the seed, then 005: the backup taken before 005, and the state it holds."""
    assert project.deploy().code == 0
    before = catalog_and_data(project.target_db)
    project.write_migration("005_audit.sql", MIGRATION_005)
    result = project.deploy()
    assert result.code == 0, result.output[-2000:]
    assert project.applied_versions() == [1, 2, 3, 4, 5]
    return target_dumps(project)[-1], before


def test_restoring_the_backup_before_005_returns_its_exact_state_and_the_next_deploy_converges(project, source_db):
    dump, before = before_and_after_005(project)
    query(project.target_db, "INSERT INTO users (email, display_name) VALUES ('late@x', 'Late')")
    restored = project.restore(f"backup={dump}", f"confirm={project.target_db}")
    assert restored.code == 0, restored.output[-3000:]
    assert "catalog and every table's row count equal to the manifest" in restored.output
    assert catalog_and_data(project.target_db) == before  # no audit, no nickname, no late row
    assert project.applied_versions() == [1, 2, 3, 4]

    again = project.deploy()
    assert again.code == 0, again.output[-3000:]
    assert project.applied_versions() == [1, 2, 3, 4, 5]
    assert project.deploy().changed() == []


def test_a_dump_whose_sha256_differs_from_its_manifest_is_refused_before_the_target_is_touched(project, source_db):
    dump, _ = before_and_after_005(project)
    manifest_path = dump.with_suffix(".json")
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "sha256": "0" * 64}))
    state = catalog_and_data(project.target_db)
    refused = project.restore(f"backup={dump}", f"confirm={project.target_db}")
    assert refused.code != 0
    assert "its sha256 differs from its manifest's" in refused.output and "nothing was restored" in refused.output
    assert "equal to the manifest" not in refused.output
    assert catalog_and_data(project.target_db) == state


def test_a_restore_whose_result_differs_from_the_manifest_is_rolled_back(project, source_db):
    dump, _ = before_and_after_005(project)
    manifest_path = dump.with_suffix(".json")
    manifest = json.loads(manifest_path.read_text())
    users = manifest["rows"]["public.users"]
    manifest["rows"]["public.users"] = users + 1  # the manifest says one row more than the dump holds
    manifest_path.write_text(json.dumps(manifest))
    state = catalog_and_data(project.target_db)
    failed = project.restore(f"backup={dump}", f"confirm={project.target_db}")
    assert failed.code != 0
    assert "rolled back, the target is as it was" in failed.output
    assert f"public.users: {users + 1} row(s) in the backup, {users} restored" in failed.output
    assert catalog_and_data(project.target_db) == state  # audit and nickname still there: nothing changed


def test_the_dry_run_of_restore_shows_what_will_be_dropped_and_restored(project, source_db):
    dump, _ = before_and_after_005(project)
    state = catalog_and_data(project.target_db)
    dry = subprocess.run([PYINFRA, "--dry", "--data", f"backup={dump}", "--data", f"confirm={project.target_db}",
                          "inventory.py", "restore.py"], cwd=ROOT, env=project.env(), capture_output=True, text=True,
                         timeout=180, check=False)
    assert dry.returncode == 0, (dry.stdout + dry.stderr)[-3000:]
    out = dry.stdout + dry.stderr
    assert "drop (created after the backup): table audit" in out
    assert "drop (created after the backup): column users.nickname" in out
    assert "replace every table's rows with the backup's: 5 table(s)" in out
    assert catalog_and_data(project.target_db) == state
