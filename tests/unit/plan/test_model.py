"""The plan's parts (pure): a problem keeps its way forward apart, and the plan reads in a few lines."""

import dataclasses

import pytest

from tasks.plan import (
    CopyPart,
    MigrationsPart,
    Plan,
    Problem,
    SeedPart,
    SeedTable,
    TargetPart,
)


def test_a_problem_keeps_its_way_forward_apart_and_prints_as_its_message():
    problem = Problem.of("migration-history", "schema_migrations",
                         "migration 002_x.sql was edited after it was applied: restore the file")
    assert problem.fix == "restore the file" and str(problem) == problem.message
    assert problem.as_dict()["code"] == "migration-history"


def test_the_parts_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TargetPart().reasons = ("x",)  # type: ignore[misc]


def test_an_unreadable_history_counts_as_a_change_of_schema_not_as_converged():
    part = MigrationsPart(files=3, problems=(Problem("unreadable", "schema_migrations", "cannot read", ""),))
    assert not part.readable and not part.converged and part.changes_schema


def test_the_plan_in_lines():
    plan = Plan(migrations=MigrationsPart(files=4, applied=4), copy=CopyPart(False),
                seed=SeedPart(tables=(SeedTable("users.csv", "public.users", 3, 0, "(1)"),)),
                target=TargetPart(("seed rows to insert",)), proof_needed=False)
    assert plan.lines() == ["proof: already proven", "target: changes (seed rows to insert)",
                            "migrations: 4 applied, 0 pending", "seed: 3 row(s) to write in 0 file(s)"]
    assert plan.as_dict()["copy"] == {"enabled": False}
