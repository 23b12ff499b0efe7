"""The summary renders typed rows (pure): a dry run's unchecked state says "will check", health rows
keep their status for colour, and the plan is shown and recorded."""

from types import SimpleNamespace

from pyinfra.context import ctx_host

from tasks.core import summary
from tasks.core.summary import HealthRow, Summary, document, rows_in_order, table
from tasks.plan import MigrationsPart, Plan, TargetPart


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
