"""
The proof's role: the shadow database is owned by, and the files run as, a role that is not a
superuser, like Heroku's owner role, so what the target would refuse (``ALTER ... OWNER TO postgres``,
``COPY ... FROM PROGRAM``, ``CREATE EXTENSION`` of an untrusted one) fails in the proof.

The role is named like its shadow (``pgconverge_shadow_<pid>_<random>``), logs in with a random
password that only the run's private service file holds (the server gets a SCRAM verifier computed
here), and is dropped with the shadow; roles left by a killed run (their pid gone) are dropped first.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import psycopg
from psycopg import sql

from tasks.core import connections
from tasks.core.processes import pid_alive
from tasks.core.rows import scalar

ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"


def is_superuser(admin: psycopg.Connection) -> bool:
    return bool(scalar(admin.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")))


def create(admin: psycopg.Connection, name: str, service: str) -> str:
    """Create role ``name`` and a service of the same name for it (the source's host, the shadow database)."""
    password = secrets.token_urlsafe(24)
    verifier = admin.pgconn.encrypt_password(password.encode(), name.encode(), b"scram-sha-256").decode()
    create = sql.SQL("CREATE ROLE {} " + ATTRIBUTES + " PASSWORD {}")
    admin.execute(create.format(sql.Identifier(name), sql.Literal(verifier)))
    service_file = connections.installed()
    if service_file is None:
        raise RuntimeError("no service file installed for this run")
    params = dict(service_file.services[service], user=name, password=password, dbname=name)
    service_file.add(name, params)
    return name


def drop(admin: psycopg.Connection, name: str) -> None:
    admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
    service_file = connections.installed()
    if service_file is not None:
        service_file.discard(name)


def drop_stale(admin: psycopg.Connection, pattern, on_event: Callable[[str], None]) -> None:
    """Drop proof roles whose run is gone (their database is dropped first, by the caller)."""
    found = admin.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE 'pgconverge\\_shadow\\_%'").fetchall()
    for (name,) in found:
        match = pattern.fullmatch(name)
        if match and not pid_alive(int(match.group(1))):
            on_event(f"dropping the proof's role {name} left by an interrupted run")
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
