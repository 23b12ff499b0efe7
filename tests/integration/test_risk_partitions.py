"""
A partitioned table is sized by its partitions (tester item 6): the parent has no storage of its own
(``pg_total_relation_size`` 0), so a rewrite of it was "0 bytes, empty" and its SET NOT NULL over a
partition holding NULLs was not checked. PostgreSQL is the oracle: the sum of the partitions'
``pg_total_relation_size``, the target unchanged and no backup taken.
"""

from __future__ import annotations

import pytest

from tasks.risk.size import human_bytes
from tests.support import catalog_and_data, query

pytestmark = pytest.mark.cluster


def backups_taken(project) -> list:
    folder = project.tmp / "backups" / "target"
    return sorted(folder.glob("*")) if folder.exists() else []


def test_a_partitioned_parent_is_sized_by_its_partitions_and_data_checked(project):
    project.write_migration(
        "005_parts.sql",
        "CREATE TABLE pt (id int NOT NULL, k int, pad text) PARTITION BY RANGE (id);\n"
        "CREATE TABLE pt_1 PARTITION OF pt FOR VALUES FROM (0) TO (100000);\n"
        "CREATE TABLE pt_2 PARTITION OF pt FOR VALUES FROM (100000) TO (200000);\n",
    )
    done = project.deploy()
    assert done.code == 0, done.output
    query(project.target_db, "INSERT INTO pt SELECT g, CASE WHEN g % 1000 = 0 THEN NULL ELSE g END, "
          "repeat('p', 60) FROM generate_series(1, 30000) g; ANALYZE pt")
    total = query(project.target_db, "SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('pt')")[0][0]
    before, backups = catalog_and_data(project.target_db), backups_taken(project)
    project.write_migration("006_retype.sql", "ALTER TABLE pt ALTER COLUMN pad TYPE varchar(100);\n")
    dry = project.dry(RISK_TABLE_MB="1", RISK_FAIL_ON="never")
    assert f"rewrite of pt ({human_bytes(int(total))}, " in dry.output, dry.output
    done = project.deploy(RISK_TABLE_MB="1")
    assert done.code != 0 and "006_retype.sql line 1 rewrites pt" in done.output, done.output
    assert catalog_and_data(project.target_db) == before and backups_taken(project) == backups
    (project.migrations / "006_retype.sql").unlink()
    project.write_migration("006_required.sql", "ALTER TABLE pt ALTER COLUMN k SET NOT NULL;\n")
    done = project.deploy(RISK_TABLE_MB="1000")
    assert done.code != 0, done.output
    assert "006_required.sql line 1" in done.output and "30 row(s) hold NULL" in done.output, done.output
    assert catalog_and_data(project.target_db) == before and backups_taken(project) == backups


def test_attach_partition_scans_the_partition_and_the_default_one(project):
    """Issue 27 item 4: ATTACH PARTITION reads every row of the partition (its bound) under ACCESS
    EXCLUSIVE, and of the default partition, which the proof sees locked; neither was flagged."""
    project.write_migration(
        "005_parts.sql",
        "CREATE TABLE pa (id int NOT NULL, pad text) PARTITION BY RANGE (id);\n"
        "CREATE TABLE pa_other PARTITION OF pa DEFAULT;\n"
        "CREATE TABLE pa_loose (id int NOT NULL, pad text);\n",
    )
    done = project.deploy()
    assert done.code == 0, done.output
    query(project.target_db, "INSERT INTO pa_loose SELECT g, repeat('p', 60) FROM generate_series(1, 30000) g; "
          "INSERT INTO pa SELECT g, repeat('p', 60) FROM generate_series(200000, 230000) g; ANALYZE")
    before, backups = catalog_and_data(project.target_db), backups_taken(project)
    project.write_migration(
        "006_attach.sql", "ALTER TABLE pa ATTACH PARTITION pa_loose FOR VALUES FROM (0) TO (100000);\n"
    )
    done = project.deploy(RISK_TABLE_MB="1")
    assert done.code != 0, done.output
    assert "006_attach.sql line 1 validates partition constraint over every row of pa_loose" in done.output
    assert catalog_and_data(project.target_db) == before and backups_taken(project) == backups
    dry = project.dry(RISK_TABLE_MB="1", RISK_FAIL_ON="never")
    assert "006_attach.sql:1 ACCESS EXCLUSIVE + partition constraint validation of pa_other (" in dry.output
    assert "006_attach.sql:1 SHARE UPDATE EXCLUSIVE of pa (" in dry.output, dry.output
