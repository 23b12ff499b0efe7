"""
Health reported: ``heroku pg:diagnose`` for the target, one line per check (read-only).
"""

from __future__ import annotations

from pathlib import Path

from pyinfra import host

from tasks.core import reports, summary
from tasks.core.settings import FAIL_ON
from tasks.facts import Unreadable, read
from tasks.health import checks as health
from tasks.health import query
from tasks.health.facts import HealthOutliers, HealthSnapshot
from tasks.operations.common import (
    converged,
    operation,  # pyinfra's, guarded: any error ends as one line
    planning,
    refuse,
    will_check,
)
from tasks.plan import Planner
from tasks.schema import report


@operation()
def reported(
    plan: Planner,
    label: str,
    ssl_required: bool,
    long_query_s: float = 60.0,
    idle_s: float = 60.0,
    connection_limit: int | None = None,
    fail_on: str = "red",
    report_dir: str | None = None,
    report_keep: int = reports.DEFAULT_KEEP,
):
    """
    Report the database's health (connections, SSL, long queries, locks, cache, sequences, bloat...).

    + plan: the run's plan (:class:`tasks.plan.Planner`): the target's service; its Heroku app, whose
      ``pg:info`` facts are shown, and its connection limit used, when this run read them
    + label: what to call the database in messages (a redacted URL or an app name)
    + ssl_required: a session without SSL is red (yellow otherwise)
    + long_query_s: an active query older than this is yellow (red after 5 minutes)
    + idle_s: a session idle in transaction longer than this is yellow (red after 5 minutes)
    + connection_limit: the plan's connection limit when known (else ``max_connections``)
    + fail_on: ``red`` fails the run when a check is red; ``never`` only reports
    + report_dir: where ``latest-health.json`` and ``history/health-<time>-<pid>-<random>.json``
      are written (none when unset)
    + report_keep: how many ``history/health-<time>-<pid>-<random>.json`` are kept (the newest)

    Never counts as a change: it only reads the database. A yellow check never fails the run.

    **Example:**

    .. code:: python

        health.reported(
            name="Health reported",
            plan=Planner.of(run),
            label="postgres://app:***@db.example.com:5432/app",
            ssl_required=True,
            connection_limit=20,
        )
    """
    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on must be one of {', '.join(FAIL_ON)}, not {fail_on!r}")
    if planning():
        will_check("will check at the end of the run (read-only)")
        return
    service, heroku_app = plan.target, plan.heroku_app.name if plan.heroku_app else None
    thresholds = health.Thresholds(long_query_s=long_query_s, idle_s=idle_s)
    try:
        raw = read(HealthSnapshot, service, thresholds.sql())
    except Unreadable as exc:
        host.log(f"health of {label} not checked: {exc.error}")
        return
    if raw.get("has_pg_stat_statements"):
        sql = query.outliers_sql(raw["pg_stat_statements_schema"], raw["server_version_num"])
        try:
            raw["outliers"] = read(HealthOutliers, service, sql)
        except Unreadable as exc:
            raw["outliers"] = {"error": exc.error}
    pg_info = None
    if heroku_app:
        from tasks.heroku.app import pg_info_if_read

        pg_info = pg_info_if_read(heroku_app)
        if pg_info and pg_info.connections_limit and connection_limit is None:
            connection_limit = pg_info.connections_limit
    checks = health.evaluate(raw, thresholds, connection_limit, ssl_required)
    # Shown once, under the summary printed at exit (which colours it on a terminal).
    summary.current().health = health.rows(checks)
    if heroku_app:
        found = pg_info.summary() if pg_info else "not read (this run changed nothing)"
        summary.current().health.insert(0, summary.HealthRow("heroku pg:info", "", found))
    if report_dir:
        document = health.report_document(raw, checks)
        path, tightened = report.write_report(Path(report_dir), "health", document, report_keep)
        if tightened:
            host.log(reports.tightened_note(Path(report_dir), tightened))
        host.log(f"health report written to {path}")
    failing = health.red(checks)
    if failing and fail_on == "red":
        yield from refuse(
            f"{label} is unhealthy ({'; '.join(f'{c.name}: {c.summary}' for c in failing)}): "
            "fix it, or set HEALTH_FAIL_ON=never to only report"
        )
        return
    converged(f"health of {label}: {len(failing)} red, {sum(c.status == 'yellow' for c in checks)} yellow")
