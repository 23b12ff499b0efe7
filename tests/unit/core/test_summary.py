"""Each environment has its own summary, named in its table and its JSON (pure: pyinfra's host context)."""

from __future__ import annotations

from types import SimpleNamespace

from pyinfra.context import ctx_host

from tasks.core import summary


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
