"""
A dropped column leaves a gap in PostgreSQL's physical column numbers (attnum) that a restore or a
pg_dump/pg_restore closes: the catalog compares the order of the live columns, so such a schema is
neither drift nor a failed restore. Real pyinfra CLI against the sandbox's PostgreSQL clusters.
"""

import os
import subprocess

import pytest

from sandbox.binaries import cluster_bindir
from tests.support import catalog_and_data, create_target_db, drop_db, with_dbname

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

ADD = "ALTER TABLE rooms ADD COLUMN scratch int;\nALTER TABLE rooms ADD COLUMN topic text;\n"
DROP = "ALTER TABLE rooms DROP COLUMN scratch;\n"  # a gap in attnum before rooms.topic


@pytest.mark.long
def test_a_backup_of_a_table_with_a_dropped_column_restores_and_the_next_run_converges(project, source_db):
    project.write_migration("005_rooms_more.sql", ADD)
    project.write_migration("006_rooms_less.sql", DROP)
    first = project.deploy()
    assert first.code == 0, first.output[-3000:]
    before = catalog_and_data(project.target_db)
    project.write_migration("007_audit.sql", "CREATE TABLE audit (id int PRIMARY KEY);\n")
    assert project.deploy().code == 0
    dump = max((project.tmp / "backups" / "target").glob("*.dump"))  # taken before 007
    restored = project.restore(f"backup={dump}", f"confirm={project.target_db}")
    assert restored.code == 0, restored.output[-3000:]
    assert "differs from the backup's manifest" not in restored.output
    assert catalog_and_data(project.target_db) == before
    again = project.deploy()
    assert again.code == 0, again.output[-3000:]


def test_a_target_restored_by_pg_dump_and_pg_restore_converges_without_drift(project, source_db):
    project.write_migration("005_rooms_more.sql", ADD)
    project.write_migration("006_rooms_less.sql", DROP)
    first = project.deploy()
    assert first.code == 0, first.output[-3000:]
    dump = project.tmp / "t.dump"
    bindir = cluster_bindir("target")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    subprocess.run([f"{bindir}/pg_dump", "-Fc", "-f", str(dump), project.target_url], check=True, env=env)
    copy = create_target_db()  # the same database, rebuilt from the dump by its owner: no gap in attnum
    try:
        project.target_url = with_dbname(project.target_url, copy)
        subprocess.run([f"{bindir}/pg_restore", "--no-owner", "-d", project.target_url, str(dump)], check=True, env=env)
        result = project.deploy()
    finally:
        drop_db(copy)
    assert result.code == 0, result.output[-3000:]
    assert "drift" not in result.output.lower()
