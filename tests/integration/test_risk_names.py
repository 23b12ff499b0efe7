"""
The risk plan names what the target means (an outside tester's findings): a risk line or refusal on an
unqualified name names the table schema-qualified as the target resolves it (``"$user", public``: the
role's own schema first), and a partitioned table's writes are its partitions' (the parent has no
counters in ``pg_stat_user_tables``). PostgreSQL is the oracle; the assertions read latest-run.json's
structured plan, never the wording.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from tests.support import catalog_and_data, query

pytestmark = pytest.mark.cluster


def recorded(project) -> dict:
    return json.loads((project.tmp / "reports" / "latest-run.json").read_text())["plan"]


def test_a_refusal_names_the_table_the_target_resolves_not_the_bare_name(project):
    role = urlsplit(project.target_url).username
    schema = str(role)  # a plain identifier (whynot_owner)
    project.write_migration(
        "005_twins.sql",
        f"CREATE SCHEMA {schema};\n"
        f"CREATE TABLE {schema}.t (id int PRIMARY KEY, pad text);\n"
        "CREATE TABLE public.t (id int PRIMARY KEY, pad text);\n",
    )
    assert project.deploy().code == 0
    query(
        project.target_db,
        f"INSERT INTO {schema}.t SELECT g, repeat('p', 100) FROM generate_series(1, 20000) g; ANALYZE {schema}.t",
    )
    before = catalog_and_data(project.target_db)
    project.write_migration("006_retype.sql", "ALTER TABLE t ALTER COLUMN pad TYPE varchar(200);\n")
    done = project.deploy(RISK_TABLE_MB="1")
    assert done.code != 0, done.output
    plan = recorded(project)
    qualified = f"{schema}.t"
    assert [p["subject"] for p in plan["risk"]["problems"]] == [f"006_retype.sql:1 {qualified}"], plan["risk"]
    locks = [f for f in plan["risk"]["findings"] if f["kind"] == "lock"]
    assert [(f["table"], f["high"]) for f in locks] == [(qualified, True)], locks
    assert catalog_and_data(project.target_db) == before


def test_a_partitioned_parents_writes_are_its_partitions(project):
    project.write_migration(
        "005_parts.sql",
        "CREATE TABLE pw (id int NOT NULL, k int NOT NULL) PARTITION BY RANGE (id);\n"
        "CREATE TABLE pw_1 PARTITION OF pw FOR VALUES FROM (0) TO (100000) PARTITION BY LIST (k);\n"
        "CREATE TABLE pw_1a PARTITION OF pw_1 FOR VALUES IN (0, 1);\n"
        "CREATE TABLE pw_2 PARTITION OF pw FOR VALUES FROM (100000) TO (200000);\n",
    )
    assert project.deploy().code == 0
    query(project.target_db, "INSERT INTO pw SELECT g, g % 2 FROM generate_series(1, 5000) g")  # a second session
    query(project.target_db, "INSERT INTO pw_2 SELECT g, 0 FROM generate_series(100000, 105000) g")
    query(project.target_db, "UPDATE pw SET k = 1 - k WHERE id < 2000")
    project.write_migration("006_note.sql", "ALTER TABLE pw ADD COLUMN note text;\n")
    done = project.deploy()  # a --dry writes no report: the run records the plan it went by
    assert done.code == 0, done.output
    locks = {f["table"]: f for f in recorded(project)["risk"]["findings"] if f["kind"] == "lock"}
    assert {"public.pw", "public.pw_1a", "public.pw_2"} <= set(locks), locks  # the proof saw the partitions locked
    assert locks["public.pw"]["writes_per_s"] >= locks["public.pw_1a"]["writes_per_s"] > 0, locks
    assert locks["public.pw"]["writes_per_s"] >= locks["public.pw_2"]["writes_per_s"] > 0, locks
