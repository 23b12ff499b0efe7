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


def test_the_seed_line_counts_the_rows_of_files_whose_table_is_not_there_yet():
    """Nothing is counted while a table is absent: the line counts every row of the files (as the run inserts)."""
    from tasks.data.seed import SeedFile

    files = tuple(SeedFile(f"{n}.csv", f"public.{n}", ("id",), "", rows) for n, rows in (("a", 2), ("b", 3)))
    plan = Plan(seed=SeedPart(files, absent=("public.a", "public.b")))
    assert plan.lines() == ["seed: 5 row(s) to write in 2 file(s), 2 table(s) not there yet"]


def test_a_high_risk_only_reported_says_so_in_its_record():
    from tasks.plan import RiskFinding

    finding = RiskFinding("lock", "005_x.sql", 1, "HIGH RISK", high=True, reported_only=True)
    assert finding.as_dict()["reported_only"] is True and finding.as_dict()["accepted"] is False


def test_the_plan_recorded_is_the_one_the_target_part_was_decided_on(monkeypatch):
    """A part rebuilt after the run's changes (the copy reads the migrations again once they are applied)
    does not replace what the target part went by: the record agrees with its reasons."""
    from tasks.plan import Planner

    monkeypatch.setattr("tasks.plan.build.remember", lambda service, key, compute, schema_only=False: compute())
    monkeypatch.setattr("tasks.plan.build.planning", lambda: False)
    planner = Planner([], [])
    planner._migrations = lambda: MigrationsPart(files=4, applied=0)  # type: ignore[method-assign]
    planner._target = lambda: TargetPart(("4 pending migration(s)",))  # type: ignore[method-assign]
    planner.migrations_part()
    planner.target_part()
    planner._migrations = lambda: MigrationsPart(files=4, applied=4)  # type: ignore[method-assign]
    assert planner.migrations_part().applied == 4
    built = planner.built()
    assert built.migrations is not None and built.migrations.applied == 0
    assert built.target is not None and built.target.reasons == ("4 pending migration(s)",)
