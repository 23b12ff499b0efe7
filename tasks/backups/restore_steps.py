"""
A confirmed restore's plan and its step: what ``restore.py`` shows, and the Python step that
restores a local backup (one transaction, a verified backup of what it replaces first) or a Heroku
backup (Heroku's restore, then the database checked against the manifest recorded at capture).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tasks.backups import dump as dumping
from tasks.backups import restore as restoring
from tasks.backups import store
from tasks.backups.dump import BackupError
from tasks.backups.heroku_capture import heroku_capture_recorded

Log = Callable[[str], None]


def local_plan(label: str, folder: Path, dump: Path, manifest: dict[str, Any], current: dict | None) -> list[str]:
    """The lines the confirmation shows for a local restore."""
    return [
        f"first: take a verified backup of {label} as it is now into {folder}/ (restoring it undoes this restore)",
        f"restore {dump.name} (taken {manifest.get('created_at', '?')}) into {label}, in one transaction:",
    ] + [f"  {line}" for line in restoring.plan_lines(manifest, current)]


def heroku_plan(app: str, backup: str, manifest: dict[str, Any], current: dict | None) -> list[str]:
    """The lines the confirmation shows for a Heroku restore."""
    return [
        f"first: capture a Heroku backup of {app}'s database as it is now (restoring it undoes this restore)",
        f"restore Heroku backup {backup} (captured {manifest.get('created_at', '?')}) into {app}'s database:",
    ] + [f"  {line}" for line in restoring.plan_lines(manifest, current)]


def _differences(differences: list[str]) -> str:
    shown = "; ".join(differences[:8])
    return shown + (f"; and {len(differences) - 8} more" if len(differences) > 8 else "")


def local_step(service: str, folder: Path, label: str, dump: Path, manifest: dict[str, Any]) -> Callable[[Log], str]:
    """The step restoring the verified local backup ``dump`` into the target, in one transaction that
    commits only when the catalog and every table's row count equal the manifest's."""

    def run(log: Log) -> str:
        def undo_backup(snapshot: str) -> store.Backup:
            taken = dumping.take_backup(service, folder, label, None, log, snapshot=snapshot)
            log(
                f"backup {taken.path} verified: the target as it was before this restore, taken while the restore "
                "holds its tables (no write can commit in between)"
            )
            return taken

        outcome, before = restoring.restore_exactly(service, dump, manifest, log, undo_backup)
        undo = (
            f"the target as it was is backup {before.path.name} (restore it to undo)"
            if before
            else "no backup of the target as it was was kept (the restore replaced nothing)"
        )
        differences = restoring.mismatches(manifest, outcome)
        if not outcome.committed or differences:
            raise BackupError(
                f"restoring {dump.name} was rolled back, the target is as it was: what the restore "
                f"gave differs from the backup's manifest: {_differences(differences) or 'see the manifest'}"
            )
        if store.is_empty_backup(manifest):
            log(f"restored {dump.name}: the target holds nothing again, as recorded; its catalog equals the manifest's")
            return f"restored {dump.name} (the target is empty again); {undo}"
        log(
            f"restored {dump.name}: {len(outcome.rows)} tables, {sum(outcome.rows.values()):,} rows; catalog and "
            "every table's row count equal to the manifest"
            + ("" if manifest.get("catalog") else " (an older manifest: row counts only)")
        )
        log(undo)
        return f"restored {dump.name}; {undo}"

    return run


def heroku_step(service: str, app: str, backup: str, folder: Path, manifest: dict[str, Any]) -> Callable[[Log], str]:
    """The step restoring Heroku backup ``backup`` into ``app``'s database (a Heroku backup of it as it is
    first), then comparing the database with the manifest (Heroku's restore cannot be rolled back)."""
    from tasks.heroku import app as heroku_app

    def run(log: Log) -> str:
        before = heroku_capture_recorded(app, service, folder, log)[0].split()[0]
        undo = f"the database as it was is Heroku backup {before} (restore it to undo)"
        heroku_app.restore_backup(app, backup, log)
        state = dumping.database_state(service)
        differences = restoring.mismatches(manifest, restoring.Outcome(True, state["catalog"], state["rows"]))
        if differences:
            raise BackupError(
                f"Heroku restored {backup} into {app}, but the database differs from the manifest "
                f"recorded when it was captured: {'; '.join(differences[:8])}; "
                f"see heroku pg:backups:info {backup} -a {app}"
            )
        log(
            f"restored Heroku backup {backup}: {len(state['rows'])} tables, {sum(state['rows'].values()):,} rows; "
            "catalog and every table's row count equal to the manifest"
        )
        log(undo)
        return f"restored Heroku backup {backup}; {undo}"

    return run
