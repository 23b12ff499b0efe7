"""
Target reachable: connect over the run's service file, check TLS and client versions.
"""

from __future__ import annotations

from tasks.operations.common import operation  # pyinfra's, guarded: any error ends as one line

from tasks.facts import FactError, ServerInfo, read
from tasks.operations.common import client_too_old, converged, refuse
from tasks.risk import pooler
from tasks.risk.facts import BackendPid


@operation()
def reachable(service: str, label: str, require_ssl: bool = True, local_dump: bool = True,
              heroku_app: str | None = None, port: int | None = None):
    """
    Ensure the database answers, over SSL when required, and a local pg_dump is not older.

    + service: the service name of the run's pg_service.conf (``target`` or ``source``)
    + label: what to call the database in messages (a redacted URL or an app name)
    + require_ssl: refuse a session without TLS
    + local_dump: this run may take a local ``pg_dump`` of it, so one at least as new as the
      server must be installed (False on Heroku: its backups are taken server-side)
    + heroku_app, port: what to name when the database answers through a connection pooler (refused)

    **Example:**

    .. code:: python

        target.reachable(
            name="Target reachable",
            service="target",
            label="postgres://app:***@db.example.com:5432/app",
        )
    """
    info = read(ServerInfo, service)
    if isinstance(info, FactError) and pooler.startup_refused(label, info["error"], port, heroku_app):
        yield from refuse(pooler.startup_refused(label, info["error"], port, heroku_app) or "")
        return
    if isinstance(info, FactError):
        yield from refuse(f"{label} is not reachable: {info['error']}: check the URL, password and network")
        return
    if require_ssl and not info["ssl"]:
        yield from refuse(f"{label} accepted a connection without SSL: use sslmode=require (the server must offer SSL)")
        return
    pids = read(BackendPid, service)
    pooled = None if isinstance(pids, FactError) else pooler.refusal(label, *pids, port, heroku_app)
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
