"""
The summary's rows when a run stops while planning (pure): the failed state, the states planned
before it (converged when their plan found nothing to do, else "would change; not run"), the
rest not reached, and states left out on purpose still say why.
"""

from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st
from pyinfra.context import ctx_host

from tasks.core import reports, summary
from tasks.core.summary import HealthRow, Row, Summary, document, rows_in_order, table
from tasks.plan import MigrationsPart, Plan, TargetPart


def test_rows_after_a_stop_while_planning():
    summary = Summary(planned=["A", "B", "C", "D", "E"], absent={"D": "left out"}, checked={"A": "fine"},
                      stopped_planning=True)
    summary.rows["C"] = Row("C", "failed", "broken")
    rows = {r.state: (r.status, r.detail) for r in rows_in_order(summary, summary.planned)}
    assert rows == {
        "A": ("converged", "fine"),
        "B": ("skipped", "would change; not run: the run stopped while planning"),
        "C": ("failed", "broken"),
        "D": ("skipped", "left out"),
        "E": ("skipped", "not reached: an earlier state failed"),
    }


@settings(max_examples=25, deadline=None)
@given(st.sets(st.integers(min_value=0, max_value=10**6), max_size=30), st.integers(min_value=1, max_value=25))
def test_history_never_exceeds_keep_and_keeps_the_newest(tmp_path_factory, stamps, keep):
    folder = tmp_path_factory.mktemp("reports")
    (folder / "history").mkdir()
    for stamp in stamps:  # runs of earlier days (before this run's own time)
        (folder / "history" / reports.history_name("health", 1_600_000_000 + stamp)).write_text("{}")
    path, _ = reports.write_report(folder, "health", "{}", keep)
    kept = reports.history(folder, "health")
    assert len(kept) == min(keep, len(stamps) + 1) and kept[-1] == path




def test_a_dry_run_shows_a_state_it_cannot_check_yet_as_will_check_never_converged():
    summary = Summary(planned=["A", "B"], checked={"A": "fine"}, will_check={"B": "will check after the migrations"})
    rows = {r.state: (r.status, r.detail) for r in rows_in_order(summary, summary.planned, dry=True)}
    assert rows == {"A": ("converged", "fine"), "B": ("will check", "will check after the migrations")}


def test_health_rows_are_coloured_by_their_status_and_notes_are_plain():
    summary = Summary(health=[HealthRow("ssl", "red", "not in use"), HealthRow("heroku pg:info", "", "not read")])
    lines = table([], summary, color=True)
    assert "  \033[31mred   \033[0m ssl                  not in use" in lines
    assert "  heroku pg:info: not read" in lines
    assert document([], summary)["health"] == ["red    ssl                  not in use", "heroku pg:info: not read"]


def test_the_plan_is_shown_under_the_summary_and_recorded_in_the_document():
    plan = Plan(migrations=MigrationsPart(files=4, applied=4), target=TargetPart())
    summary = Summary(plan=lambda: plan)
    assert "  target: nothing will change" in table([], summary, color=False)
    recorded = document([], summary)["plan"]
    assert recorded["target"] == {"changes": False, "reasons": [], "refusal": None}
    assert recorded["migrations"]["pending"] == [] and recorded["copy"] is None


def in_environment(name: str | None):
    return ctx_host.use(SimpleNamespace(data={"environment": name}))  # type: ignore[arg-type]


def test_states_recorded_in_one_environment_stay_in_its_summary():
    with in_environment("staging_u"):
        summary.state("Migrations applied")
        summary.record("Migrations applied", "changed", "applied 001")
    with in_environment("production_u"):
        summary.state("Migrations applied")
        summary.record("Migrations applied", "failed", "refused")
        production = summary.current()
    staging = summary.every()["staging_u"]
    assert staging.rows["Migrations applied"].status == "changed"
    assert production.rows["Migrations applied"].status == "failed"
    rows = summary.rows_in_order(staging, staging.planned)
    assert summary.table(rows, staging, color=False, environment="staging_u")[0] == "summary of environment staging_u:"
    assert summary.document(rows, staging, "staging_u")["environment"] == "staging_u"
    assert summary.table(rows, staging, color=False)[0] == "summary:"  # without environments, as before
