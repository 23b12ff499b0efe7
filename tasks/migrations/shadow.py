"""
Migrations proven locally: every file applied, in order, to a throw-away *shadow* database on
the source server. The shadow's catalog is the expected schema (cached by :mod:`tasks.migrations.expected`).

The shadow is named ``pgconverge_shadow_<pid>_<random>``, owned by a role of the same name that is
not a superuser (when the source's user is one; otherwise the files run as that user), and both are
dropped afterwards, also on failure; those left by a killed run (their pid gone) are dropped before
a new one is made. What the target's owner role may not do fails here, before any backup or change.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from tasks.core.connections import conninfo
from tasks.core.processes import pid_alive
from tasks.core.rows import scalar
from tasks.migrations import proof_role
from tasks.migrations.engine import apply_migrations
from tasks.migrations.failures import MigrationError
from tasks.migrations.files import Migration
from tasks.migrations.session import Limits, connect
from tasks.schema import catalog

PER_FILE_LINE_S = 1.0  # the proof names a file when it took this long (250 short files: the total alone)
SHADOW_NAME = re.compile(r"pgconverge_shadow_(\d+)_[0-9a-f]+")


def drop_stale_shadows(admin: psycopg.Connection, on_event: Callable[[str], None]) -> None:
    found = admin.execute("SELECT datname FROM pg_database WHERE datname LIKE 'pgconverge\\_shadow\\_%'").fetchall()
    for (name,) in found:
        match = SHADOW_NAME.fullmatch(name)
        if match and not pid_alive(int(match.group(1))):
            on_event(f"dropping shadow database {name} left by an interrupted run")
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _prove_seeds(shadow: str, seed_files: list, on_event: Callable[[str], None]) -> None:
    """Load the seed files into the shadow (one transaction, as COPY data), so a bad file fails before the target."""
    from tasks.data import seed_load

    try:
        seed_load.load(shadow, seed_files, "insert")
    except seed_load.SeedError as exc:
        raise MigrationError(f"{exc} (found on a throw-away shadow database; the target was not touched)") from None
    on_event(f"seed files load cleanly ({len(seed_files)} file(s))")


def target_user(target_service: str | None) -> str | None:
    """The target's user name (what ``"$user"`` is on the target), read briefly; None without a target."""
    if not target_service:
        return None
    try:
        with psycopg.connect(conninfo(target_service), connect_timeout=10) as conn:
            return str(scalar(conn.execute("SELECT current_user")))
    except psycopg.Error:
        return None


def older_than_target(proof_version_num: int, target_service: str | None) -> str:
    """`` on PostgreSQL 15, older than the target's 17: …`` when the proof server is older than the
    target (what is valid on the target may fail here), else ``""``; the target read briefly."""
    if not target_service:
        return ""
    try:
        with psycopg.connect(conninfo(target_service), connect_timeout=10) as conn:
            target = conn.info.server_version
    except psycopg.Error:
        return ""
    if proof_version_num // 10000 >= target // 10000:
        return ""
    proof, wanted = proof_version_num // 10000, target // 10000
    return (
        f" on PostgreSQL {proof}, older than the target's {wanted}: if the file is valid on {wanted}, run the "
        f"proof on a source server of PostgreSQL {wanted} or newer (SOURCE_DATABASE_URL) rather than change it"
    )


def prove(
    service: str,
    migrations: list[Migration],
    on_event: Callable[[str], None],
    seed_files: list | None = None,
    target_service: str | None = None,
    observer: Any = None,
) -> tuple[dict[str, Any], str]:
    """
    Apply every file (then load the seed files) on a new shadow database, as a role that is not a
    superuser and owns it (:mod:`tasks.migrations.proof_role`); return (catalog, server version).
    An ``observer`` (:class:`tasks.risk.observe.Observer`) sees each statement's locks and rewrites.
    """
    admin = connect(conninfo(service))
    name = f"pgconverge_shadow_{os.getpid()}_{secrets.token_hex(4)}"
    role = None
    try:
        drop_stale_shadows(admin, on_event)
        proof_role.drop_stale(admin, SHADOW_NAME, on_event)
        try:
            if proof_role.is_superuser(admin):
                role = proof_role.create(admin, name, service)
            owner = sql.SQL(" OWNER {}").format(sql.Identifier(role)) if role else sql.SQL("")
            admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0{}").format(sql.Identifier(name), owner))
        except psycopg.Error as exc:
            raise MigrationError(
                f"cannot create a shadow database on the source server ({exc.diag.message_primary}): "
                "the SOURCE_DATABASE_URL user needs CREATEDB"
            ) from None
        shadow = conninfo(role) if role else conninfo(service, dbname=name)
        if role:
            try:
                connect(shadow).close()
            except MigrationError as exc:
                why = str(exc).removeprefix("cannot connect: ")
                no_slot = "connection slots" in why or "too many connections" in why
                fix = (
                    "close some of the source server's sessions (it has no connection slot left for a role that "
                    "is not a superuser), then run again"
                    if no_slot
                    else "allow password logins for SOURCE_DATABASE_URL's host in its pg_hba.conf, or use a source "
                    "user that is not a superuser"
                )
                raise MigrationError(
                    f"the proof's role (not a superuser, like the target's owner) cannot log in to "
                    f"the source server ({why}): {fix}"
                ) from None
        user = target_user(target_service) or role  # "$user" as on the target: names resolve alike
        try:
            started = time.monotonic()
            apply_migrations(
                shadow,
                migrations,
                None,
                Limits(lock_wait_s=5, lock_timeout="0", statement_timeout="0"),
                on_event,
                verb="proved",
                quiet_below_s=PER_FILE_LINE_S,
                observer=observer,
                search_path_of=user,
            )
            on_event(f"proved {len(migrations)} file(s) on a shadow database in {time.monotonic() - started:.1f}s")
        except MigrationError as exc:
            older = older_than_target(admin.info.server_version, target_service)
            raise MigrationError(
                f"{exc} (found on a throw-away shadow database, run as a role that is not a "
                "superuser, like the target's; the target was not touched)"
                + (f". The proof ran{older}" if older else "")
            ) from None
        with connect(shadow, user) as conn:  # a view's text names a table as the target's session would
            snap = catalog.snapshot(conn)  # the schema, before seed rows move anything
            version = scalar(conn.execute("SHOW server_version"))
        if seed_files:
            _prove_seeds(shadow, seed_files, on_event)
        return snap, version
    finally:
        try:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            if role:
                proof_role.drop(admin, role)
        finally:
            admin.close()
