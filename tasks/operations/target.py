"""
Target reachable: connect over the run's service file, check TLS and client versions.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import operation

from tasks.facts import ClientVersion, FactError, ServerInfo, read
from tasks.operations.common import refuse


@operation()
def reachable(service: str, label: str, require_ssl: bool = True):
    """
    Ensure the database answers, over SSL when required, and the local client tools are not older.

    + service: the service name of the run's pg_service.conf (``target`` or ``source``)
    + label: what to call the database in messages (a redacted URL or an app name)
    + require_ssl: refuse a session without TLS

    **Example:**

    .. code:: python

        target.reachable(
            name="Target reachable",
            service="target",
            label="postgres://app:***@db.example.com:5432/app",
        )
    """
    info = read(ServerInfo, service)
    if isinstance(info, FactError):
        yield from refuse(f"{label} is not reachable: {info['error']}: check the URL, password and network")
        return
    if require_ssl and not info["ssl"]:
        yield from refuse(f"{label} accepted a connection without SSL: use sslmode=require (the server must offer SSL)")
        return
    client = host.get_fact(ClientVersion)
    server_major = info["version_num"] // 10000
    if client is not None and client < server_major:
        yield from refuse(
            f"local pg_dump {client} is older than {label}'s PostgreSQL {server_major}: "
            f"install postgresql-client-{server_major} (backups and copies need pg_dump >= the server)"
        )
        return
    host.noop(
        f"{label}: PostgreSQL {info['version']}, {'SSL' if info['ssl'] else 'no SSL'}, "
        f"{info['connections_used']}/{info['max_connections']} connections, user {info['user']}"
    )
