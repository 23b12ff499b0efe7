"""
What the proof observes reaches the plan and the gate (issue 27, items 5 and 6). Before the proof the
risk lines are the parse tree's, and --dry says so; the real run's gate uses what the proof saw (a
rewrite inside a DO block). A no-transaction file that calls a function is observed too: its rewrites
(relfilenode) join the gate, its locks are said to be not observed. PostgreSQL is the oracle: the target
unchanged, no backup taken.
"""

from __future__ import annotations

import pytest

from tests.support import catalog_and_data, query

pytestmark = pytest.mark.cluster

REWRITE = "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid()"


def backups_taken(project) -> list:
    folder = project.tmp / "backups" / "target"
    return sorted(folder.glob("*")) if folder.exists() else []


def many_users(project) -> None:
    query(
        project.target_db,
        "INSERT INTO users (email, display_name) SELECT 'u' || g || '@x', repeat('n', 70) "
        "FROM generate_series(1, 20000) g",
    )


def test_dry_before_the_proof_says_so_and_the_run_gates_on_what_the_proof_saw(project):
    assert project.deploy().code == 0
    many_users(project)
    before, backups = catalog_and_data(project.target_db), backups_taken(project)
    project.write_migration("005_do.sql", f"DO $$BEGIN EXECUTE '{REWRITE}'; END$$;\n")
    dry = project.dry(RISK_TABLE_MB="1")
    assert "005_do.sql: risk from the parse tree (not yet proven)" in dry.output, dry.output
    done = project.deploy(RISK_TABLE_MB="1")
    assert done.code != 0 and "005_do.sql line 1 rewrites public.users" in done.output, done.output
    assert catalog_and_data(project.target_db) == before and backups_taken(project) == backups
    dry = project.dry(RISK_TABLE_MB="1", RISK_FAIL_ON="never")
    assert "005_do.sql:1 ACCESS EXCLUSIVE + rewrite of public.users (" in dry.output, dry.output
    assert "not yet proven" not in dry.output


def test_a_no_transaction_file_calling_a_function_is_observed(project):
    project.write_migration(
        "005_fn.sql", f"CREATE FUNCTION retype() RETURNS void LANGUAGE plpgsql AS $$BEGIN {REWRITE}; END$$;\n"
    )
    assert project.deploy().code == 0
    many_users(project)
    before, backups = catalog_and_data(project.target_db), backups_taken(project)
    project.write_migration("006_call.sql", "-- pgconverge:no-transaction\nSELECT retype();\n")
    done = project.deploy(RISK_TABLE_MB="1")
    assert done.code != 0 and "006_call.sql line 2 rewrites public.users" in done.output, done.output
    assert catalog_and_data(project.target_db) == before and backups_taken(project) == backups
    dry = project.dry(RISK_TABLE_MB="1", RISK_FAIL_ON="never")
    assert "006_call.sql: no-transaction file: its locks are not observed" in dry.output, dry.output


@pytest.mark.parametrize("damage", ["removed", "invalid"])
def test_a_lost_observation_is_proven_again_before_the_gate(project, damage):
    """The proof's observations (STATE_DIR/risk/) lost or damaged after a refusal: the next run proves
    again and the gate still refuses the rewrite done inside EXECUTE (the target untouched, no backup);
    --dry says the proof is needed."""
    assert project.deploy().code == 0
    many_users(project)
    before, backups = catalog_and_data(project.target_db), backups_taken(project)
    project.write_migration("005_do.sql", f"DO $$BEGIN EXECUTE '{REWRITE}'; END$$;\n")
    done = project.deploy(RISK_TABLE_MB="1")
    assert done.code != 0 and "005_do.sql line 1 rewrites public.users" in done.output, done.output
    for entry in (project.state / "risk").glob("*.json"):
        if damage == "removed":
            entry.unlink()
        else:
            entry.write_text("{not json")
    dry = project.dry(RISK_TABLE_MB="1")
    assert "proof: prove the migrations on a shadow database" in dry.output, dry.output
    done = project.deploy(RISK_TABLE_MB="1")
    assert done.code != 0 and "005_do.sql line 1 rewrites public.users" in done.output, done.output
    assert catalog_and_data(project.target_db) == before and backups_taken(project) == backups
    assert 5 not in project.applied_versions()
