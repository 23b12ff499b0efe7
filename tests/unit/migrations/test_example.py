"""
The example app's migrations are recognised by their checksums (wherever they are copied), and
planning them into a database that already has tables of its own is refused with one line that
says so (pure: the plan against a recorded history, no database).
"""

import shutil
from pathlib import Path

from tasks.data.seed import read_seed_files
from tasks.migrations import example
from tasks.migrations.files import read_migrations
from tasks.migrations.plan import AppliedRow, TargetHistory, plan_migrations

ROOT = Path(__file__).resolve().parents[3]


def _example_copy(tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(ROOT / "files" / "migrations", folder)
    return read_migrations(folder)


def test_the_shipped_example_files_are_the_ones_recognised():
    assert {m.checksum for m in read_migrations(ROOT / "files" / "migrations")} == set(example.MIGRATIONS)
    assert {example.seed_checksum(s.text) for s in read_seed_files(ROOT / "files" / "seed")} == set(example.SEEDS)


def test_example_migrations_into_a_database_with_tables_are_refused_in_one_line(tmp_path):
    files = _example_copy(tmp_path)
    for baseline in (None, 4):  # BASELINE_VERSION would record the example as applied: refused too
        plan = plan_migrations(files, TargetHistory(False, user_tables=12), baseline)
        assert len(plan.problems) == 1 and not plan.pending and not plan.baseline
        problem = plan.problems[0]
        assert "\n" not in problem
        assert f"{tmp_path / 'migrations'} holds the example app's migrations" in problem
        assert "12 table(s)" in problem and "MIGRATIONS_DIR" in problem and "SEED_DIR" in problem


def test_example_migrations_into_an_empty_database_are_planned(tmp_path):
    files = _example_copy(tmp_path)
    plan = plan_migrations(files, TargetHistory(False, user_tables=0), None)
    assert [m.version for m in plan.pending] == [1, 2, 3, 4] and not plan.problems


def test_the_example_database_itself_converges_again(tmp_path):
    files = _example_copy(tmp_path)
    rows = tuple(AppliedRow(m.version, m.name, m.checksum) for m in files)
    assert plan_migrations(files, TargetHistory(True, user_tables=4, rows=rows), None).converged


def test_the_users_own_migrations_are_not_taken_for_the_example(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "001_create_users.sql").write_text("CREATE TABLE users (id bigint PRIMARY KEY);\n")
    plan = plan_migrations(read_migrations(folder), TargetHistory(False, user_tables=3), None)
    assert len(plan.problems) == 1 and "example" not in plan.problems[0] and "BASELINE_VERSION" in plan.problems[0]


def test_the_examples_seed_rows_with_the_users_own_migrations_are_refused(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "001_create_accounts.sql").write_text("CREATE TABLE accounts (id bigint PRIMARY KEY);\n")
    seeds = {s.filename: s.text for s in read_seed_files(ROOT / "files" / "seed")}
    problem = example.example_seeds_alone(read_migrations(folder), seeds, "files/seed")
    assert problem and "\n" not in problem
    assert problem.startswith("files/seed holds the example app's seed rows (") and "set SEED_DIR" in problem
    # With the example's own migrations (make demo, the tests) they belong together.
    assert example.example_seeds_alone(_example_copy(tmp_path), seeds, "files/seed") is None
    # The user's own seed rows are theirs, whatever the file names.
    assert example.example_seeds_alone(read_migrations(folder), {"users.csv": "id\n1\n"}, "seed") is None


def test_a_database_holding_the_examples_own_tables_is_left_to_the_baseline(tmp_path):
    files = _example_copy(tmp_path)
    history = TargetHistory(False, user_tables=2, table_names=("public.rooms", "public.users"))
    plan = plan_migrations(files, history, None)
    assert len(plan.problems) == 1 and "example" not in plan.problems[0] and "BASELINE_VERSION" in plan.problems[0]
    assert [m.version for m in plan_migrations(files, history, 2).pending] == [3, 4]


def test_the_refusal_names_some_of_the_tables_of_its_own(tmp_path):
    history = TargetHistory(False, user_tables=2, table_names=("billing.invoices", "public.users"))
    problem = plan_migrations(_example_copy(tmp_path), history, None).problems[0]
    assert "is not empty: 2 table(s), 0 other object(s) (billing.invoices):" in problem


def test_a_target_with_only_views_functions_or_types_is_not_empty(tmp_path):
    history = TargetHistory(False, user_tables=0, other_objects=2, object_names=("function public.f", "view app.v"))
    problem = plan_migrations(_example_copy(tmp_path), history, None).problems[0]
    assert "is not empty: 0 table(s), 2 other object(s) (function public.f, view app.v):" in problem


def test_the_examples_own_trigger_function_does_not_make_a_target_foreign(tmp_path):
    history = TargetHistory(
        False, user_tables=4, table_names=example.TABLES, other_objects=1, object_names=example.OBJECTS
    )
    assert [m.version for m in plan_migrations(_example_copy(tmp_path), history, 4).baseline] == [1, 2, 3, 4]
