"""
The data checks issue 27's adversary pass found missing (item 1): VALIDATE CONSTRAINT, ADD COLUMN …
NOT NULL without a default, UNIQUE NULLS NOT DISTINCT, a primary key over NULLs, FOREIGN KEY … MATCH
FULL over partly NULL keys, unique expression and partial indexes. Each stops the run before the
target backup with the target unchanged, naming file, table, count and an example; PostgreSQL is the
oracle (without the check, each file fails on the target after the backup).
"""

from __future__ import annotations

import json

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
        "UNIQUE NULLS NOT DISTINCT on (owner): 1 value(s) are duplicated (e.g. value (NULL))",
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
    # adversary finding 1: ADD COLUMN's own constraints over the value existing rows get
    "add_column_default_null": (
        THINGS,
        ROWS,
        {"006_c.sql": "ALTER TABLE things ADD COLUMN c int NOT NULL DEFAULT NULL;\n"},
        "006_c.sql line 1",
        "ADD COLUMN c NOT NULL without a default: 3 row(s) would hold NULL",
    ),
    "add_column_references": (  # REFERENCES without columns: the parent's primary key
        {**THINGS, "006_owners.sql": "CREATE TABLE owners (id int PRIMARY KEY);\n"},
        ROWS + "; INSERT INTO owners VALUES (1)",
        {"007_c.sql": "ALTER TABLE things ADD COLUMN c int DEFAULT 999 REFERENCES owners;\n"},
        "007_c.sql line 1",
        "FOREIGN KEY (c) REFERENCES public.owners: 3 row(s) have no parent",
    ),
    "add_column_unique": (
        THINGS,
        ROWS,
        {"006_c.sql": "ALTER TABLE things ADD COLUMN c int UNIQUE DEFAULT 1;\n"},
        "006_c.sql line 1",
        "UNIQUE on (c): 1 value(s) are duplicated (e.g. value (1))",
    ),
    "add_column_check": (
        THINGS,
        ROWS,
        {"006_c.sql": "ALTER TABLE things ADD COLUMN c int DEFAULT 0 CHECK (c > 0);\n"},
        "006_c.sql line 1",
        "CHECK (c > 0): 3 row(s) violate it",
    ),
    "add_column_domain_made_in_run": (
        THINGS,
        ROWS,
        {"006_c.sql": "CREATE DOMAIN nnint AS int NOT NULL;\nALTER TABLE things ADD COLUMN c nnint;\n"},
        "006_c.sql line 2",
        "ADD COLUMN c of a NOT NULL type without a default: 3 row(s) would hold NULL",
    ),
    "add_column_domain_of_the_target": (  # the domain applied by an earlier run: read from the target
        {**THINGS, "006_nnint.sql": "CREATE DOMAIN nnint AS int NOT NULL;\n"},
        ROWS,
        {"007_c.sql": "ALTER TABLE things ADD COLUMN c nnint;\n"},
        "007_c.sql line 1",
        "ADD COLUMN c of a NOT NULL type without a default: 3 row(s) would hold NULL",
    ),
    "add_column_then_set_not_null": (
        THINGS,
        ROWS,
        {"006_c.sql": "ALTER TABLE things ADD COLUMN c int;\nALTER TABLE things ALTER c SET NOT NULL;\n"},
        "006_c.sql line 2",
        "SET NOT NULL on c: 3 row(s) hold NULL",
    ),
    # adversary finding 2: pg_dump's set_config form of SET search_path
    "set_config_search_path": (
        {"005_app.sql": "CREATE SCHEMA app;\nCREATE TABLE app.items (id int);\n"},
        "INSERT INTO app.items VALUES (1), (1)",
        {"006_unique.sql": "SELECT pg_catalog.set_config('search_path', 'app', false);\n"
         "ALTER TABLE items ADD UNIQUE (id);\n"},
        "006_unique.sql line 2",
        "UNIQUE on (id): 1 value(s) are duplicated (e.g. value (1))",
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


# PostgreSQL applies each of these: a check must not refuse them (adversary findings 1, 4, 5)
APPLIES = {
    "add_column_valid_default": "ALTER TABLE things ADD COLUMN c int DEFAULT 5 CHECK (c > 0) REFERENCES owners (id);\n"
    "ALTER TABLE things ADD COLUMN d int DEFAULT 0 NOT NULL;\n",
    "truncate_then_not_null": "TRUNCATE things;\nALTER TABLE things ALTER COLUMN owner SET NOT NULL;\n",
    "retype_using_then_not_null": "ALTER TABLE things ALTER COLUMN owner TYPE bigint USING coalesce(owner, 0);\n"
    "ALTER TABLE things ALTER COLUMN owner SET NOT NULL;\n",
    "delete_then_unique": "DELETE FROM things WHERE id > 1;\n"
    "CREATE UNIQUE INDEX things_one_name ON things (lower(name));\n",
}


@pytest.mark.parametrize("case", sorted(APPLIES))
def test_what_postgresql_applies_is_not_refused(project, case):
    for name, text in {**THINGS, "006_owners.sql": "CREATE TABLE owners (id int PRIMARY KEY);\n"}.items():
        project.write_migration(name, text)
    assert project.deploy().code == 0
    query(project.target_db, ROWS + "; INSERT INTO owners VALUES (5)")
    project.write_migration("007_change.sql", APPLIES[case])
    done = project.deploy(REPORT_DIR=str(project.tmp / "reports"))
    assert done.code == 0, done.output[-3000:]
    assert project.applied_versions()[-1] == 7
    if case != "add_column_valid_default":  # the earlier statement is named as the reason no count was made
        report = json.loads((project.tmp / "reports" / "latest-run.json").read_text())
        assert any(
            line.startswith("007_change.sql:2 data not checked (an earlier statement of the file changes the rows")
            for line in report["risk"]
        ), report["risk"]


def test_row_level_security_never_hides_failing_rows_silently(project):
    """Adversary finding 7: a policy (FORCE ROW LEVEL SECURITY) hid the NULLs from the check, which passed
    silently; SET NOT NULL then failed after the backup (a validation ignores policies). The check runs with
    row_security off: PostgreSQL refuses that where a policy would apply, and the plan says the data was not
    checked."""
    project.write_migration(
        "005_secret.sql",
        "CREATE TABLE secret (id int PRIMARY KEY, c int);\nALTER TABLE secret ENABLE ROW LEVEL SECURITY;\n"
        "ALTER TABLE secret FORCE ROW LEVEL SECURITY;\nCREATE POLICY visible ON secret USING (c > 0);\n",
    )
    assert project.deploy().code == 0
    query(project.target_db, "INSERT INTO secret VALUES (1, 5), (2, NULL)")
    project.write_migration("006_required.sql", "ALTER TABLE secret ALTER COLUMN c SET NOT NULL;\n")
    done = project.deploy(REPORT_DIR=str(project.tmp / "reports"))
    # past the risk step, PostgreSQL refuses (pg_dump's backup meets the same policy, or SET NOT NULL the NULL)
    assert done.code != 0 and ("row-level security" in done.output or "contains null values" in done.output)
    assert project.applied_versions()[-1] == 5
    report = json.loads((project.tmp / "reports" / "latest-run.json").read_text())
    assert "006_required.sql:1 data not checked (row level security: the table's policies would hide rows from " \
        "the check)" in report["risk"], report["risk"]
