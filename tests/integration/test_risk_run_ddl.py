"""
The data checks and the gate follow the run's own DDL (issue 27, adversary finding 3): a table
dropped, renamed or moved (SET SCHEMA) and made again, or a column renamed and added again, in the
same run holds none of the target's rows. Those migrations were refused with no way past; PostgreSQL
is the oracle: each applies. A data refusal is overridden like the gate: the file's accept-risk line,
or RISK_FAIL_ON=never (then PostgreSQL's own failure, after the backup, is what the user meets).
"""

from __future__ import annotations

import json

import pytest

from tests.support import catalog_and_data, query

pytestmark = pytest.mark.cluster

THINGS = "CREATE TABLE things (id int PRIMARY KEY, name text, k int);\n"
ROWS = "INSERT INTO things SELECT g, 'same', g % 7 FROM generate_series(1, 3000) g"
NEW = "CREATE TABLE things (id bigint PRIMARY KEY, name text NOT NULL, k int);\n"

REMADE = {
    "dropped": "DROP TABLE things;\n" + NEW + "CREATE UNIQUE INDEX things_name ON things (name);\n",
    "renamed": "ALTER TABLE things RENAME TO things_old;\n" + NEW + "CREATE UNIQUE INDEX ON things (name);\n",
    "moved": "CREATE SCHEMA app;\nALTER TABLE things SET SCHEMA app;\n"
    + NEW
    + "ALTER TABLE things ADD CONSTRAINT one_name UNIQUE (name);\n",
    "column_renamed": "ALTER TABLE things RENAME COLUMN name TO old_name;\n"
    "ALTER TABLE things ADD COLUMN name text;\nCREATE UNIQUE INDEX ON things (name);\n",
    "column_dropped": "ALTER TABLE things DROP COLUMN k;\nALTER TABLE things ADD COLUMN k int DEFAULT NULL;\n"
    "ALTER TABLE things ADD CONSTRAINT k_set CHECK (k IS NULL);\n",
    "gate": "DROP TABLE things;\n" + NEW + "CREATE INDEX things_k ON things (k);\n",
}


def backups_taken(project) -> list:
    folder = project.tmp / "backups" / "target"
    return sorted(folder.glob("*")) if folder.exists() else []


@pytest.mark.parametrize("case", sorted(REMADE))
def test_a_table_or_column_made_again_in_the_run_is_not_checked_against_the_old_rows(project, case):
    project.write_migration("005_things.sql", THINGS)
    assert project.deploy().code == 0
    query(project.target_db, ROWS + "; ANALYZE things")
    project.write_migration("006_again.sql", REMADE[case])
    gate = "100" if case.startswith("column") else "0"  # the table itself is the target's: its gate holds
    done = project.deploy(RISK_TABLE_MB=gate, REPORT_DIR=str(project.tmp / "reports"))
    assert done.code == 0, done.output[-3000:]
    assert project.applied_versions()[-1] == 6
    report = json.loads((project.tmp / "reports" / "latest-run.json").read_text())
    assert not [line for line in report["risk"] if "HIGH RISK" in line], report["risk"]


@pytest.mark.parametrize("how", ["accept-risk", "never"])
def test_a_data_refusal_is_overridden_like_the_gate(project, how):
    project.write_migration("005_things.sql", THINGS)
    assert project.deploy().code == 0
    query(project.target_db, ROWS)
    before, backups = catalog_and_data(project.target_db), backups_taken(project)
    text = "ALTER TABLE things ADD CONSTRAINT one_name UNIQUE (name);\n"
    project.write_migration("006_unique.sql", text)
    refused = project.deploy()
    assert refused.code != 0 and "006_unique.sql line 1 will fail" in refused.output, refused.output[-3000:]
    assert catalog_and_data(project.target_db) == before and backups_taken(project) == backups
    if how == "accept-risk":
        project.write_migration("006_unique.sql", "-- pgconverge: accept-risk\n" + text)
    done = project.deploy(**({"RISK_FAIL_ON": "never"} if how == "never" else {}))
    # past the check: the backup is taken and PostgreSQL itself refuses the constraint
    assert done.code != 0 and "could not create unique index" in done.output, done.output[-3000:]
    assert len(backups_taken(project)) > len(backups) and project.applied_versions()[-1] == 5
