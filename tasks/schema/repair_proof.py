"""
The proof of a drift repair, on the source server (never the target): a shadow database gets the
migrations (the expected schema), then the target's drift replayed (the repair computed the other
way round), and its catalog must then match the target's in everything the repair covers; the
repair is applied and the catalog must match the expected schema in everything it covers. The
shadow is dropped at the end (one left by a killed run is dropped by the next proof).
"""

from __future__ import annotations

import os
import secrets
from typing import Any

import psycopg
from psycopg import sql

from tasks.core.connections import conninfo
from tasks.migrations.engine import apply_migrations
from tasks.migrations.files import Migration
from tasks.migrations.session import Limits, connect
from tasks.schema import catalog
from tasks.schema.repair import Repair, plan_repair
from tasks.schema.versions import normalize_pair


def prove(
    service: str, migrations: list[Migration], expected: dict[str, Any], actual: dict[str, Any], repair: Repair
) -> str | None:
    """None when the repair is proven; else one line saying where the proof failed."""
    replay = plan_repair(actual, expected)  # what made the expected schema into the target's
    admin = connect(conninfo(service))
    name = f"pgconverge_shadow_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
        shadow = conninfo(service, dbname=name)
        apply_migrations(shadow, migrations, None, Limits(lock_wait_s=5, lock_timeout="0", statement_timeout="0"))
        with connect(shadow) as conn:
            try:
                for statement in replay.statements:
                    conn.execute(statement)
            except psycopg.Error as exc:
                return f"the drift could not be rebuilt on a shadow copy ({exc.diag.message_primary})"
            left = plan_repair(*normalize_pair(actual, catalog.snapshot(conn))).statements
            if left:
                return f"the shadow copy differs from the target after the drift was rebuilt ({left[0]})"
            try:
                for statement in repair.statements:
                    conn.execute(statement)
            except psycopg.Error as exc:
                return f"the repair fails on the shadow copy of the drifted schema: {exc.diag.message_primary}"
            left = plan_repair(*normalize_pair(expected, catalog.snapshot(conn))).statements
            if left:
                return f"after the repair the shadow copy still differs from the expected schema ({left[0]})"
        return None
    finally:
        try:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        finally:
            admin.close()
