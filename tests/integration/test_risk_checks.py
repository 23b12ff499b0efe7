"""
The data checks issue 27's adversary pass found missing (item 1): VALIDATE CONSTRAINT, ADD COLUMN …
NOT NULL without a default, UNIQUE NULLS NOT DISTINCT, a primary key over NULLs, FOREIGN KEY … MATCH
FULL over partly NULL keys, unique expression and partial indexes. Each stops the run before the
target backup with the target unchanged, naming file, table, count and an example; PostgreSQL is the
oracle (without the check, each file fails on the target after the backup).
"""

from __future__ import annotations

import pytest

from tests.support import catalog_and_data, query

pytestmark = pytest.mark.cluster

# tables of the test's own (the seed files fill the example app's, in the proof too)
THINGS = {
    "005_things.sql": "CREATE TABLE things (id int PRIMARY KEY, name text, owner int, part int, private boolean);\n"
    "CREATE TABLE pairs (a int, b int, PRIMARY KEY (a, b));\n"
}
ROWS = (
    "INSERT INTO things VALUES "
    "(1, 'Same', NULL, NULL, true), (2, 'same', NULL, 1, true), (3, 'Other', 1, NULL, false)"
)

CASES = {
    "validate_target": (  # the NOT VALID constraint applied after the rows exist (it holds for new rows)
        THINGS,
        ROWS,
        {"006_short.sql": "ALTER TABLE things ADD CONSTRAINT short CHECK (length(name) < 5) NOT VALID;\n"},
        {"007_validate.sql": "ALTER TABLE things VALIDATE CONSTRAINT short;\n"},
        "007_validate.sql line 1",
        "CHECK (length(name) < 5): 1 row(s) violate it (e.g. key (3))",
    ),
    "validate_same_run": (
        THINGS,
        ROWS,
        {
            "006_short.sql": "ALTER TABLE things ADD CONSTRAINT short CHECK (length(name) < 5) NOT VALID;\n",
            "007_validate.sql": "SELECT 1;\nALTER TABLE things VALIDATE CONSTRAINT short;\n",
        },
        "007_validate.sql line 2",
        "CHECK (length(name) < 5): 1 row(s) violate it (e.g. key (3))",
    ),
    "add_column_not_null": (
        THINGS,
        ROWS,
        {"006_topic.sql": "ALTER TABLE things ADD COLUMN topic text NOT NULL;\n"},
        "006_topic.sql line 1",
        "ADD COLUMN topic NOT NULL without a default: 3 row(s) would hold NULL (e.g. key (",
    ),
    "nulls_not_distinct": (
        THINGS,
        ROWS,
        {"006_owner.sql": "ALTER TABLE things ADD CONSTRAINT one_owner UNIQUE NULLS NOT DISTINCT (owner);\n"},
        "006_owner.sql line 1",
        "UNIQUE NULLS NOT DISTINCT on (owner): 1 value(s) are duplicated (e.g. value ())",
    ),
    "primary_key_over_nulls": (
        {**THINGS, "006_loose.sql": "CREATE TABLE loose (a int, b int);\n"},
        "INSERT INTO loose VALUES (2, 2), (1, NULL)",
        {"007_pk.sql": "ALTER TABLE loose ADD PRIMARY KEY (a, b);\n"},
        "007_pk.sql line 1",
        "PRIMARY KEY on (a, b): 1 row(s) hold NULL in a key column (e.g. row at ctid (0,2))",
    ),
    "match_full": (
        THINGS,
        ROWS + "; INSERT INTO pairs VALUES (1, 1)",
        {"006_fk.sql": "ALTER TABLE things ADD FOREIGN KEY (owner, part) REFERENCES pairs (a, b) MATCH FULL;\n"},
        "006_fk.sql line 1",
        "MATCH FULL: 2 row(s) have no parent or a partly NULL key (e.g. key (",
    ),
    "unique_expression_index": (
        THINGS,
        ROWS,
        {"006_lower.sql": "CREATE UNIQUE INDEX things_lower_name ON things (lower(name));\n"},
        "006_lower.sql line 1",
        "UNIQUE on (lower(name)): 1 value(s) are duplicated (e.g. value (same))",
    ),
    "partial_unique_index": (
        THINGS,
        ROWS + "; UPDATE things SET name = 'Same'",
        {"006_private.sql": "CREATE UNIQUE INDEX things_private_name ON things (name) WHERE private;\n"},
        "006_private.sql line 1",
        "UNIQUE on (name) WHERE private: 1 value(s) are duplicated (e.g. value (Same))",
    ),
}


def backups_taken(project) -> list:
    folder = project.tmp / "backups" / "target"
    return sorted(folder.glob("*")) if folder.exists() else []


@pytest.mark.parametrize("case", sorted(CASES))
def test_data_that_will_fail_is_found_before_the_backup(project, case):
    applied, rows, *later, pending, where, says = CASES[case]
    for name, text in applied.items():
        project.write_migration(name, text)
    done = project.deploy()
    assert done.code == 0, done.output
    query(project.target_db, rows)
    for name, text in (later[0] if later else {}).items():
        project.write_migration(name, text)
        assert project.deploy().code == 0
    before, backups = catalog_and_data(project.target_db), backups_taken(project)
    for name, text in pending.items():
        project.write_migration(name, text)
    done = project.deploy()
    assert done.code != 0, done.output
    assert f"{where} will fail on the target's table" in done.output and says in done.output, done.output[-3000:]
    assert catalog_and_data(project.target_db) == before and backups_taken(project) == backups
