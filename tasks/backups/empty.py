"""
The backup of a target that holds nothing: a manifest that says so, no ``pg_dump``.

A first deploy backs the target up before it changes it; when the target holds nothing a backup
would keep, ``pg_dump`` (and ``pg_restore --list``) would only write and read back an empty
archive. Instead the backup is ``<db>-<UTC time>.json`` alone, ``"empty": true``, with the same
fields as a dump's manifest (database, identity, fingerprint, server version, catalog, no table,
no row), written atomically 0600 like every manifest: :mod:`tasks.backups.store` counts it as a
verified backup (listing, pruning, BACKUP_KEEP), ``restore.py`` restores it by dropping what the
role owns and checking that the catalog is the empty one recorded here.

"Holds nothing" is proved, never assumed: no user table, no other user object, no
``schema_migrations`` (even an empty one: a real dump keeps it), and nothing else a fresh database
lacks (:data:`tasks.migrations.history.LEFTOVERS_SQL`: schemas, extensions, operators, large objects
...). What the plan read decides what the plan says; the step reads it again in the snapshot it
records, since the target may change while the confirmation screen waits: then it takes a real dump.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tasks.backups import pruning, store
from tasks.core import waits
from tasks.core.rows import scalar
from tasks.migrations.plan import TargetHistory

KIND = "empty"


def holds_nothing(history: TargetHistory | Any) -> bool:
    """Whether ``history`` (the MigrationHistory fact) proves that a backup would hold nothing.
    Anything unread (a fact error, an older reader without ``leftovers``) means no."""
    return (
        isinstance(history, TargetHistory)
        and not history.table_exists
        and not history.rows
        and history.user_tables == 0
        and history.other_objects == 0
        and history.leftovers == 0
    )


def what_is_there(history: TargetHistory) -> str:
    """The first objects that make ``history`` not empty, for a log line."""
    names = list(history.table_names) + list(history.object_names) or list(history.leftover_names)
    if history.table_exists:
        names.insert(0, "table public.schema_migrations")
    return ", ".join(names[:3]) or "objects the plan did not see"


def manifest(state: dict[str, Any], label: str, fingerprint: str | None, started: float) -> dict[str, Any]:
    """The manifest of an empty target's backup: ``state`` is what :func:`tasks.backups.dump.database_state`
    read (no table, no row, the empty catalog)."""
    return {
        "tool": store.TOOL,
        "verified": True,
        "empty": True,
        "kind": KIND,
        "database": state["database"],
        "label": label,
        "identity": store.identity(label, state["database"], state.get("identity")),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "server_version": state["server_version"],
        "tables": 0,
        "rows": {},
        "catalog": state["catalog"],
        "size_bytes": 0,
        "duration_s": round(time.monotonic() - started, 3),
        "fingerprint": fingerprint,
        "holds": "nothing: no table, no other object, no schema_migrations; no pg_dump was run",
    }


def record(
    service: str, folder: Path, label: str, fingerprint: str | None, log: Callable[[str], None]
) -> store.Backup | None:
    """
    Write the manifest of ``service``'s empty state into ``folder`` (the folder's lock held shared,
    like a dump), after proving again, in the snapshot whose catalog it records, that the database
    holds nothing. None when it does hold something now: the caller takes a real dump.
    """
    import psycopg  # only when there is work

    from tasks.backups.dump import BackupError, database_state, prepare_folder
    from tasks.core.connections import conninfo
    from tasks.migrations.history import EXISTS_SQL, HISTORY_SQL, history_from_rows

    started = time.monotonic()
    with psycopg.connect(conninfo(service), autocommit=False) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        conn.execute(waits.NO_STATEMENT_TIMEOUT)  # the catalog and row counts: not a role's statement_timeout
        history = history_from_rows(conn.execute(HISTORY_SQL).fetchall(), scalar(conn.execute(EXISTS_SQL)))
        if not holds_nothing(history):
            log(f"the target is no longer empty ({what_is_there(history)}): a pg_dump instead")
            return None
        state = database_state(service, conn)
    prepare_folder(folder)
    path = store.empty_backup_path(folder, state["database"])
    written = manifest(state, label, fingerprint, started)
    try:
        with pruning.writing(folder, log):
            store.write_json(path, written)  # atomic: a killed run leaves only a temporary name
    except pruning.FolderLocked as exc:
        raise BackupError(str(exc)) from None
    return store.Backup(path, written)
