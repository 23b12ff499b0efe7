"""
A connection pooler refused as the migration target. PgBouncer in transaction mode (Heroku's
connection-pooling attachment is one) hands each transaction to any server connection: the deploy's
session advisory lock and session settings would not hold. A pooler is recognised by what it
answers: it sends the client a cancel key of its own making, so the backend pid libpq was given is
not the ``pg_backend_pid()`` of the server session that runs the query (PgBouncer, Odyssey, PgCat,
Supavisor alike). Pure; the fact is :class:`tasks.risk.facts.BackendPid`.
"""

from __future__ import annotations

POOLER_PORT = 6432  # PgBouncer's default port (Heroku's connection pooler listens there)


STARTUP_REFUSED = "unsupported startup parameter"  # PgBouncer's answer to libpq's "options"


def refusal(label: str, key_pid: int, server_pid: int, port: int | None, heroku_app: str | None) -> str | None:
    """Why the target is a pooler and the direct URL to use, or None."""
    if key_pid == server_pid:
        return None
    return message(label, f"the session pid {key_pid} is not the server's {server_pid}", port, heroku_app)


def startup_refused(label: str, error: str, port: int | None, heroku_app: str | None) -> str | None:
    """A connection refused as PgBouncer refuses the session settings a server accepts, or None."""
    if STARTUP_REFUSED not in error:
        return None
    return message(label, f"it refused the session's settings: {STARTUP_REFUSED}", port, heroku_app)


def message(label: str, evidence: str, port: int | None, heroku_app: str | None) -> str:
    if heroku_app:
        fix = (
            f"Heroku app {heroku_app}'s DATABASE_URL is its connection pooler (pg:connection-pooling attached as "
            "DATABASE): attach the pooler under another name (heroku pg:connection-pooling:attach --as "
            "DATABASE_CONNECTION_POOL -a APP) so DATABASE_URL is the database's direct URL, and run again"
        )
    else:
        port_note = f" (port {port} is PgBouncer's)" if port == POOLER_PORT else ""
        fix = (
            f"set TARGET_DATABASE_URL to the database's direct URL{port_note}: the server's own host and port "
            "(on Heroku DATABASE_URL, not DATABASE_CONNECTION_POOL_URL)"
        )
    return (
        f"{label} answers through a connection pooler ({evidence}): migrations need one session of their own "
        f"(advisory lock, settings); {fix}"
    )
