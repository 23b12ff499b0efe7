"""
What the copy will meet once the pending migrations have run: the expected schema's tables (the
proof's catalog), so that a copy bound to fail after a new migration is said before the backup and
before any migration.
"""

from __future__ import annotations

from pathlib import Path

from tasks.data import plan as copyplan
from tasks.migrations.files import Migration

# Expected schemas proven while planning (files not proven yet), by the files' set checksum: a
# confirmed run plans twice (before and after the prompt) and proves once.
proven_now: dict[str, dict | None] = {}


def expected_after(source: str, migrations: list[Migration], state_dir: str) -> dict[str, dict[str, str]] | None:
    """The tables and columns of the expected schema (:func:`tasks.data.plan.expected_tables`), for a
    run with migrations pending. A set of files not proven yet is proven now on a throw-away shadow
    database of the ``source`` server (as the proof step does); None when that proof fails (the proof
    step then says why)."""
    from tasks.migrations import expected
    from tasks.migrations.files import set_checksum

    catalog = expected.load_expected(Path(state_dir), migrations)
    if catalog is None:
        key = set_checksum(migrations)
        if key not in proven_now:
            from tasks.migrations import shadow  # psycopg: only when a copy meets unproven migrations

            try:
                proven_now[key] = shadow.prove(source, migrations, lambda line: None)[0]
            except Exception:  # noqa: BLE001 - the proof step itself fails, and says why
                proven_now[key] = None
        catalog = proven_now[key]
    return copyplan.expected_tables(catalog) if catalog is not None else None
