"""
Target reachable: connect over the run's service file, check TLS and client versions.
"""

from __future__ import annotations

from tasks.facts import ServerInfo, Unreadable, read
from tasks.operations.common import (
    client_too_old,
    converged,
    operation,  # pyinfra's, guarded: any error ends as one line
    refuse,
)
from tasks.plan import Planner
from tasks.risk import pooler
from tasks.risk.facts import BackendPid


@operation()
def reachable(plan: Planner, label: str, require_ssl: bool = True, port: int | None = None):
    """
    Ensure the database answers, over SSL when required, and a local pg_dump is not older.

    + plan: the run's plan (:class:`tasks.plan.Planner`): the target's service; without a Heroku app
      this run may take a local ``pg_dump`` of it, so one at least as new as the server must be
      installed (on Heroku its backups are taken server-side)
    + label: what to call the database in messages (a redacted URL or an app name)
    + require_ssl: refuse a session without TLS
    + port: the target URL's port, named when the database answers through a connection pooler (refused)

    **Example:**

    .. code:: python

        target.reachable(
            name="Target reachable",
            plan=Planner.of(run),
            label="postgres://app:***@db.example.com:5432/app",
        )
    """
    service, local_dump = plan.target, plan.heroku_app is None
    heroku_app = plan.heroku_app.name if plan.heroku_app else None
    try:
        info = read(ServerInfo, service)
    except Unreadable as exc:
        pooled = pooler.startup_refused(label, exc.error, port, heroku_app)
        yield from refuse(pooled or f"{label} is not reachable: {exc.error}: check the URL, password and network")
        return
    if require_ssl and not info["ssl"]:
        yield from refuse(f"{label} accepted a connection without SSL: use sslmode=require (the server must offer SSL)")
        return
    try:
        key_pid, server_pid = read(BackendPid, service)
        pooled = pooler.refusal(label, key_pid, server_pid, port, heroku_app)
    except Unreadable:
        pooled = None  # the pooler check is a second look: the session answered ServerInfo
    if pooled:
        yield from refuse(pooled)
        return
    problem = client_too_old(label, info["version_num"]) if local_dump else None
    if problem:
        yield from refuse(problem)
        return
    converged(
        f"{label}: PostgreSQL {info['version']}, {'SSL' if info['ssl'] else 'no SSL'}, "
        f"{info['connections_used']}/{info['max_connections']} connections, user {info['user']}"
    )
