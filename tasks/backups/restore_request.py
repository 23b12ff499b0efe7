"""
Which backup a restore asks for, and whether it may be restored: the checks ``restore.py`` makes
before the target is touched, each ending as one refusal (the thing, the cause, the way forward).

Nothing here changes a database: a local backup's dump is read (its manifest, its sha256, the
database ``pg_restore --list`` names), a Heroku backup's recorded manifest is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.backups import listing, store
from tasks.backups import restore as restoring
from tasks.backups.dump import BackupError
from tasks.plan.model import Problem

NOTHING_CHANGED = "nothing was changed"


@dataclass(frozen=True)
class Request:
    """A restore asked for: the backup (``dump``: its ``.dump``, or its manifest for the backup of an
    empty target; a Heroku backup's recorded manifest) and its manifest, or the ``problem`` that
    refuses it."""

    dump: Path | None = None
    manifest: dict[str, Any] | None = None
    problem: Problem | None = None


def _refused(code: str, subject: str, message: str) -> Request:
    return Request(problem=Problem.of(code, subject, message))


def _not_found(backup: str, folder: Path, known: list[store.Backup]) -> Request:
    names = ", ".join(b.path.name for b in known[:5]) + (" …" if len(known) > 5 else "")
    where = (
        f"the verified backups of this target are {names}"
        if known
        else f"there is no verified backup of this target in {folder}/"
    )
    return _refused(
        "backup-not-found",
        backup,
        f"backup {backup} not found (neither as given nor in {folder}/): {where}; "
        f"run restore.py without backup= to list them; {NOTHING_CHANGED}",
    )


def _other_database(dump: Path, why: str, replaced: str) -> Request:
    return _refused(
        "backup-of-another-database",
        dump.name,
        f"{dump.name} is not a backup of this target ({why}): restoring it would replace {replaced} with "
        f"another database; pick a backup of this target (restore.py without backup= lists them); {NOTHING_CHANGED}",
    )


def local(
    service: str, backup: str, confirm: str | None, database: str, label: str, folder: Path, ident: str
) -> Request:
    """The local backup ``backup`` (a path, or a file name in ``folder``), once it is found, verified
    (its dump's sha256 is its manifest's), of this target (server and database, by its manifest and by
    the dump itself) and confirmed (``confirm`` equals ``database``)."""
    known = listing.candidates(folder, database, ident)
    found = listing.find(backup, folder)
    if found is None:
        return _not_found(backup, folder, known)
    dump = found
    if store.is_empty_backup(store.read_manifest(dump)):
        dump = store.manifest_path(dump)  # the backup of an empty target is its manifest (named .dump or .json)
    try:
        manifest = restoring.verified_manifest(dump)
    except BackupError as exc:
        return _refused("backup-unverified", dump.name, str(exc))
    foreign = listing.not_this_database(manifest, database, ident)
    if foreign:
        return _other_database(dump, foreign, database)
    if not store.is_empty_backup(manifest):
        try:
            named = restoring.dump_database(service, dump, manifest)
        except BackupError as exc:
            return _refused("backup-unreadable", dump.name, str(exc))
        if named != database:
            why = f"the dump itself, as pg_restore --list reads it, is of database {named}"
            why += f", and the target is {database}"
            return _other_database(dump, why, "the target")
    if confirm != database:
        return _refused(
            "not-confirmed",
            label,
            f"restoring replaces {label}: confirm with --data confirm={database} "
            f"(got {confirm or 'nothing'}); {NOTHING_CHANGED}",
        )
    return Request(dump, manifest)


def heroku(app: str, backup: str, confirm: str | None, folder: Path) -> Request:
    """The Heroku backup ``backup`` (its id, ``b005``) of ``app``, once its manifest recorded at capture
    is found and the restore is confirmed (``confirm`` equals ``app``)."""
    if not re.fullmatch(r"[abr]\d+", backup):
        return _refused(
            "not-a-backup-id",
            backup,
            f"name the Heroku backup by its id: --data backup=b005 (heroku pg:backups -a {app} lists them)",
        )
    path = store.heroku_manifest_path(folder, app, backup)
    manifest = store.read_json(path)
    if manifest is None or not store.is_restorable(manifest):
        ids = ", ".join(str(b.manifest.get("backup_id")) for b in listing.heroku_candidates(folder, app)[:5])
        return _refused(
            "no-manifest",
            backup,
            f"Heroku backup {backup} of {app} has no manifest ({path} is missing or unreadable): "
            f"restore.py restores the backups the deploy captured (recorded: {ids or 'none'}); "
            f"restore another with heroku pg:backups:restore {backup} DATABASE_URL -a {app} yourself",
        )
    if confirm != app:
        return _refused(
            "not-confirmed",
            app,
            f"restoring replaces the database of Heroku app {app}: confirm with --data confirm={app} "
            f"(got {confirm or 'nothing'}); {NOTHING_CHANGED}",
        )
    return Request(path, manifest)
