"""
A partitioned table is sized by its partitions (tester item 6): the parent has no storage of its own
(``pg_total_relation_size`` 0), so a rewrite of it was "0 bytes, empty" and its SET NOT NULL over a
partition holding NULLs was not checked. PostgreSQL is the oracle: the sum of the partitions'
``pg_total_relation_size``, the target unchanged and no backup taken.
"""

from __future__ import annotations

import re

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
    assert f"rewrite of public.pt ({human_bytes(int(total))}, " in dry.output, dry.output
    done = project.deploy(RISK_TABLE_MB="1")
    assert done.code != 0 and "006_retype.sql line 1 rewrites public.pt" in done.output, done.output
    assert catalog_and_data(project.target_db) == before and backups_taken(project) == backups
    (project.migrations / "006_retype.sql").unlink()
    project.write_migration("006_required.sql", "ALTER TABLE pt ALTER COLUMN k SET NOT NULL;\n")
    done = project.deploy(RISK_TABLE_MB="1000")
    assert done.code != 0, done.output
    assert "006_required.sql line 1" in done.output and "30 row(s) hold NULL" in done.output, done.output
    assert re.search(r"\(e\.g\. row at ctid \([0-9]+,[0-9]+\) of pt_1\)", done.output), done.output  # partition named
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
    assert "006_attach.sql line 1 validates partition constraint over every row of public.pa_loose" in done.output
    assert catalog_and_data(project.target_db) == before and backups_taken(project) == backups
    dry = project.dry(RISK_TABLE_MB="1", RISK_FAIL_ON="never")
    assert "006_attach.sql:1 ACCESS EXCLUSIVE + partition constraint validation of public.pa_other (" in dry.output
    assert "006_attach.sql:1 SHARE UPDATE EXCLUSIVE of public.pa (" in dry.output, dry.output


PARTS = (
    "CREATE TABLE parts (id int NOT NULL, k int NOT NULL) PARTITION BY RANGE (k);\n"
    "CREATE TABLE parts_1 PARTITION OF parts FOR VALUES FROM (0) TO (1000);\n"
    "CREATE TABLE parts_2 PARTITION OF parts FOR VALUES FROM (1000) TO (2000);\n"
)


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE UNIQUE INDEX parts_u ON ONLY parts (id, k);\n",
        "ALTER TABLE ONLY parts ADD CONSTRAINT parts_u UNIQUE (id, k);\n",
    ],
)
def test_on_only_a_partitioned_parent_scans_no_partition(project, statement):
    """Adversary finding 5: ON ONLY / ALTER TABLE ONLY on a partitioned parent builds no index over the
    partitions (PostgreSQL leaves the parent's invalid until each partition's is attached), so their
    duplicates do not make it fail: it was refused as "will fail". PostgreSQL applies it."""
    project.write_migration("005_parts.sql", PARTS)
    assert project.deploy().code == 0
    query(project.target_db, "INSERT INTO parts SELECT g, g % 2000 FROM generate_series(1, 5000) g; "
          "INSERT INTO parts VALUES (7, 1500), (7, 1500); ANALYZE parts")
    project.write_migration("006_only.sql", statement)
    done = project.deploy(RISK_TABLE_MB="0")
    assert done.code == 0, done.output[-3000:]
    assert project.applied_versions()[-1] == 6


def test_a_partitioned_table_counts_its_rows_once(project):
    """Adversary finding 8: the parent's estimate (PostgreSQL 14+ keeps one after ANALYZE) was added to
    its partitions': 200 k rows for 100 k. PostgreSQL's own count is the oracle."""
    project.write_migration("005_parts.sql", PARTS)
    assert project.deploy().code == 0
    query(project.target_db, "INSERT INTO parts SELECT g, g % 2000 FROM generate_series(1, 30000) g; ANALYZE parts")
    project.write_migration("006_retype.sql", "ALTER TABLE parts ALTER COLUMN id TYPE bigint;\n")
    dry = project.dry(RISK_TABLE_MB="100")
    assert "ACCESS EXCLUSIVE + rewrite of public.parts (" in dry.output and ", 30 k rows," in dry.output, (
        dry.output[-3000:]
    )


@pytest.mark.parametrize(
    "key, bound, rows, outside",
    [
        ("RANGE (id)", "FOR VALUES FROM (2000) TO (3000)", "(2500, 'a'), (0, 'b'), (2999, 'c')", 1),
        ("RANGE (id)", "FOR VALUES FROM (2000) TO (3000)", "(2500, 'a'), (2000, 'b')", 0),
        ("LIST (name)", "FOR VALUES IN ('a', NULL)", "(1, 'a'), (2, NULL), (3, 'b'), (4, 'c')", 2),
        ("HASH (id)", "FOR VALUES WITH (MODULUS 2, REMAINDER 0)", "(1, 'a'), (2, 'b'), (3, 'c'), (4, 'd')", -1),
    ],
)
def test_attach_partition_with_rows_outside_its_bound_is_refused_before_the_backup(project, key, bound, rows, outside):
    """Adversary finding 6: ATTACH PARTITION over rows outside the bound passed the risk step, the backup
    was taken, then PostgreSQL refused ("partition constraint … is violated by some row"). PostgreSQL is
    the oracle: where the run goes on, it applies the file; where it refuses, the count is PostgreSQL's."""
    project.write_migration(
        "005_parts.sql",
        f"CREATE TABLE pb (id int, name text) PARTITION BY {key};\nCREATE TABLE pb_3 (id int, name text);\n",
    )
    assert project.deploy().code == 0
    query(project.target_db, f"INSERT INTO pb_3 VALUES {rows}")
    if outside < 0:  # hash: PostgreSQL's own function says which rows belong
        outside = query(project.target_db, "SELECT count(*) FROM pb_3 WHERE NOT "
                        "satisfies_hash_partition('pb'::regclass, 2, 0, id)")[0][0]
    before, backups = catalog_and_data(project.target_db), backups_taken(project)
    project.write_migration("006_attach.sql", f"ALTER TABLE pb ATTACH PARTITION pb_3 {bound};\n")
    done = project.deploy()
    if not outside:
        assert done.code == 0 and project.applied_versions()[-1] == 6, done.output[-3000:]
        return
    assert done.code != 0, done.output[-3000:]
    assert "006_attach.sql line 1 will fail on the target's table public.pb_3: ATTACH PARTITION" in done.output
    assert f"{outside} row(s) lie outside the bound" in done.output, done.output[-3000:]
    assert catalog_and_data(project.target_db) == before and backups_taken(project) == backups
