"""
Which database a connection reaches, as the server says it (not as the URL spells it): the cluster's
system identifier (``pg_control_system()``; left out where the role may not call it), the
postmaster's start time, its port and the database's name and oid. Two URLs whose identities are
equal reach the same database, whatever their host names (``localhost``, ``127.0.0.1``, an alias).
"""

from __future__ import annotations

from dataclasses import dataclass

from tasks.core.sessions import session

BASE_SQL = (
    "SELECT current_database(), d.oid::bigint, current_setting('port'), pg_postmaster_start_time()::text "
    "FROM pg_database d WHERE d.datname = current_database()"
)
SYSTEM_SQL = "SELECT system_identifier::text FROM pg_control_system()"


@dataclass(frozen=True)
class Identity:
    database: str
    oid: int
    port: str
    started: str  # the postmaster's start time, to the microsecond
    system: str | None  # pg_control_system().system_identifier, None when not readable

    def key(self) -> str | None:
        """What a backup of this database records as its identity: the cluster's system identifier, the
        database's name and oid (None when the system identifier is not readable: the URL's server is used)."""
        return server_key(self.system, self.oid, self.database)

    def describe(self) -> str:
        cluster = f"cluster {self.system}" if self.system else f"server started {self.started}"
        return f"database {self.database} on port {self.port}, {cluster}"


def server_key(system: str | None, oid: int | None, database: str) -> str | None:
    """Pure: ``cluster 7312…, database app (oid 16384)``; None without a system identifier."""
    return f"cluster {system}, database {database} (oid {oid})" if system else None


def identity_key(service: str) -> str | None:
    """The identity key (:meth:`Identity.key`) of the database ``service`` reaches, None when not readable."""
    found = read_identity(service)
    return found.key() if found else None


def same_database(a: Identity, b: Identity) -> bool:
    """Equal names, oids, ports and start times, and system identifiers where both are known."""
    if (a.database, a.oid, a.port, a.started) != (b.database, b.oid, b.port, b.started):
        return False
    return a.system is None or b.system is None or a.system == b.system


def read_identity(service: str) -> Identity | None:
    """The identity of the database of ``service`` (read over the run's session to it); None when it
    cannot be reached (reported later, by the states)."""
    import psycopg

    one = session(service)
    try:
        database, oid, port, started = one.rows(BASE_SQL)[0]
    except psycopg.Error:
        return None
    try:
        system = one.rows(SYSTEM_SQL)[0][0]
    except psycopg.Error:  # pg_control_system() revoked from this role (a managed service)
        system = None
    return Identity(database, int(oid), port, started, system)
