"""Comparing files with the target's history: pending, drift, out of order, baseline (pure)."""

from datetime import UTC

from tasks.migrations.files import read_migrations
from tasks.migrations.plan import AppliedRow, TargetHistory, plan_migrations


def files(tmp_path, *versions):
    for v in versions:
        (tmp_path / f"{v:03d}_m{v}.sql").write_text(f"SELECT {v};")
    return read_migrations(tmp_path)


def history(migrations, versions, user_tables=1):
    rows = tuple(AppliedRow(m.version, m.name, m.checksum) for m in migrations if m.version in versions)
    return TargetHistory(table_exists=True, user_tables=user_tables, rows=rows)


def test_fresh_target_has_everything_pending(tmp_path):
    ms = files(tmp_path, 1, 2, 3)
    plan = plan_migrations(ms, TargetHistory(False, 0), None)
    assert [m.version for m in plan.pending] == [1, 2, 3] and not plan.problems


def test_converged(tmp_path):
    ms = files(tmp_path, 1, 2)
    assert plan_migrations(ms, history(ms, {1, 2}), None).converged


def test_edited_file_is_refused_with_both_checksums(tmp_path):
    ms = files(tmp_path, 1, 2)
    h = history(ms, {1, 2})
    (tmp_path / "002_m2.sql").write_text("SELECT 'edited';")
    plan = plan_migrations(read_migrations(tmp_path), h, None)
    assert len(plan.problems) == 1
    problem = plan.problems[0]
    assert "002_m2.sql was edited after it was applied" in problem and ms[1].checksum[:8] in problem
    assert "new migration" in problem


def test_unknown_applied_version(tmp_path):
    ms = files(tmp_path, 1, 2)
    h = history(ms, {1, 2})
    (tmp_path / "002_m2.sql").unlink()
    plan = plan_migrations(read_migrations(tmp_path), h, None)
    assert "version 2 (m2) is applied in the target but has no file" in plan.problems[0]


def test_many_applied_versions_without_a_file_are_one_problem(tmp_path):
    """95 applied versions with no file (MIGRATIONS_DIR pointing at another folder) printed 95
    sentences: one now, with the count and the first names."""
    ms = files(tmp_path, *range(1, 97))
    h = history(ms, set(range(1, 97)))
    for v in range(2, 97):
        (tmp_path / f"{v:03d}_m{v}.sql").unlink()
    plan = plan_migrations(read_migrations(tmp_path), h, None)
    assert len(plan.problems) == 1 and plan.problems[0].startswith("95 versions applied in the target have no file")
    assert "002_m2.sql, 003_m3.sql, 004_m4.sql, …" in plan.problems[0] and "MIGRATIONS_DIR" in plan.problems[0]


def test_out_of_order_file(tmp_path):
    ms = files(tmp_path, 1, 3)
    h = history(ms, {1, 3})
    (tmp_path / "002_late.sql").write_text("SELECT 2;")
    plan = plan_migrations(read_migrations(tmp_path), h, None)
    assert "002_late.sql is not in the target's schema_migrations, but version(s) after it are (3)" in plan.problems[0]
    assert "out of order: renumber it above 3" in plan.problems[0] and "restore the row" in plan.problems[0]
    assert not plan.pending


def test_existing_tables_without_history_need_a_baseline(tmp_path):
    ms = files(tmp_path, 1, 2, 3)
    plan = plan_migrations(ms, TargetHistory(False, 5), None)
    assert "BASELINE_VERSION" in plan.problems[0]
    plan = plan_migrations(ms, TargetHistory(False, 5), 2)
    assert [m.version for m in plan.baseline] == [1, 2] and [m.version for m in plan.pending] == [3]


def test_baseline_on_a_target_without_tables_is_refused_with_the_reason(tmp_path):
    """Issue 16.8: BASELINE_VERSION=4 on an empty target recorded 001-004 without running them."""
    ms = files(tmp_path, 1, 2, 3, 4, 5)
    plan = plan_migrations(ms, TargetHistory(table_exists=True, user_tables=0), 4)
    assert not plan.baseline and not plan.pending
    assert plan.problems == [
        ("BASELINE_VERSION=4 but the target has no tables: there is nothing to adopt, and recording files up to 4 "
        "as applied without running them would leave their objects missing for good: unset BASELINE_VERSION so the "
        "files run")]

def test_a_different_file_applied_after_this_run_started_is_blamed_on_the_other_deploy(tmp_path):
    from datetime import datetime, timedelta

    started = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    ms = files(tmp_path, 1, 2)
    (tmp_path / "002_m2.sql").write_text("SELECT 'theirs';")
    theirs = read_migrations(tmp_path)[1]
    (tmp_path / "002_m2.sql").write_text("SELECT 2;")
    row = AppliedRow(2, "m2", theirs.checksum, applied_at=started + timedelta(seconds=5))
    h = TargetHistory(True, 1, (AppliedRow(1, "m1", ms[0].checksum), row))
    problem, = plan_migrations(ms, h, None, started_at=started).problems
    assert problem.startswith("another deploy applied a different 002_m2.sql as version 2 while this run was going "
                              "(at 12:00:05 UTC")
    assert problem.endswith("compare the two files, then renumber yours above the newest applied version")
    before = AppliedRow(2, "m2", theirs.checksum, applied_at=started - timedelta(days=1))
    problem, = plan_migrations(ms, TargetHistory(True, 1, (h.rows[0], before)), None, started_at=started).problems
    assert "was edited after it was applied" in problem
