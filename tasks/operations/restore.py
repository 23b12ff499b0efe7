"""
Backup restored: an explicit, confirmed restore (``restore.py``), never part of ``deploy.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

from pyinfra import host

from tasks.backups import listing, pruning, store
from tasks.backups import restore as restoring
from tasks.backups.dump import BackupError
from tasks.backups.heroku_capture import heroku_capture_recorded
from tasks.core.identity import identity_key
from tasks.facts import CatalogSnapshot, Unreadable, read
from tasks.operations.common import (
    converged,
    operation,  # pyinfra's, guarded: any error ends as one line
    planning,
    python_step,
    refuse,
    show_plan,
)

_shown: list[str] = []


def show_once(lines: list[str]) -> None:
    """The listing, printed once whether pyinfra runs the op's body to plan (``--dry``, the prompt) or
    only to execute it (``-y``)."""
    if lines != _shown:
        _shown[:] = lines
        for line in lines:
            host.log(line)


def _catalog(service: str) -> dict | None:
    """The target's catalog for the plan shown, or None when it cannot be read (the restore says why)."""
    try:
        return read(CatalogSnapshot, service)
    except Unreadable:
        return None


@operation(is_idempotent=False, idempotent_notice="Restores every time it is run, after confirmation.")
def restored(service: str, backup: str | None, confirm: str | None, database: str, label: str, backup_dir: str):
    """
    Return the target to exactly the state of a verified backup of it, after the target's name was
    typed, keeping a verified backup of what it replaces.

    + service: the service name of the target database
    + backup: a backup's ``.dump`` file (a bare file name is looked up in ``backup_dir/target``) with
      its manifest beside it (the backup of a target that held nothing is its manifest alone:
      ``.json``; restoring it empties the target again); none: list the verified backups of the target
    + confirm: must equal ``database``, or nothing happens
    + database: the target's database name
    + label: what to call the target in messages (its redacted URL: its server is part of its identity)
    + backup_dir: the run's BACKUP_DIR

    The backup must be of this target (server and database name, as its manifest records them) and
    its dump's sha256 must be its manifest's, before the target is touched. Then a verified backup of
    the target as it is now is taken into ``backup_dir/target`` (restoring that one undoes this
    restore). Then, in one transaction: every object the role owns is dropped (so what was created
    after the backup goes too), the dump is restored (``--no-owner --no-acl``), and the catalog and
    every table's row count are compared with the manifest's; the transaction commits only when they
    are equal. An application's lock makes it wait a bounded time, again a few times, then fail naming
    the session.

    **Example:**

    .. code:: python

        restore.restored(
            name="Backup restored",
            service="target",
            backup="app-20261123T101500000000Z.dump",
            confirm="app",
            database="app",
            label="postgres://app:***@db.example.com:5432/app",
            backup_dir="backups",
        )
    """
    folder = Path(backup_dir) / "target"
    ident = store.identity(label, database, identity_key(service))
    known = listing.candidates(folder, database, ident)
    if not backup:
        show_once(
            listing.listing(known, f"{folder}/") + [f"restore one with --data backup=FILE --data confirm={database}"]
        )
        converged(f"listed {len(known)} verified backup(s) of {label}; nothing was changed")
        return
    found = listing.find(backup, folder)
    if found is not None:  # no run prunes its folder from now until this process ends (the prompt, the restore)
        try:
            pruning.hold_until_exit(found.parent, host.log)
        except pruning.FolderLocked as exc:
            yield from refuse(str(exc))
            return
        found = listing.find(backup, folder)  # pruned while a run held the folder: gone
    if found is None:
        names = ", ".join(b.path.name for b in known[:5]) + (" …" if len(known) > 5 else "")
        yield from refuse(
            f"backup {backup} not found (neither as given nor in {folder}/): "
            + (
                f"the verified backups of this target are {names}"
                if known
                else f"there is no verified backup of this target in {folder}/"
            )
            + "; run restore.py without backup= to list them; nothing was changed"
        )
        return
    dump = found
    if store.is_empty_backup(store.read_manifest(dump)):
        dump = store.manifest_path(dump)  # the backup of an empty target is its manifest (named .dump or .json)
    try:
        manifest = restoring.verified_manifest(dump)
    except BackupError as exc:
        yield from refuse(str(exc))
        return
    foreign = listing.not_this_database(manifest, database, ident)
    if foreign:
        yield from refuse(
            f"{dump.name} is not a backup of this target ({foreign}): restoring it would replace "
            f"{database} with another database; pick a backup of this target (restore.py without "
            "backup= lists them); nothing was changed"
        )
        return
    if not store.is_empty_backup(manifest):
        try:
            named = restoring.dump_database(service, dump, manifest)
        except BackupError as exc:
            yield from refuse(str(exc))
            return
        if named != database:
            yield from refuse(
                f"{dump.name} is not a backup of this target (the dump itself, as pg_restore --list "
                f"reads it, is of database {named}, and the target is {database}): restoring it would "
                "replace the target with another database; pick a backup of this target (restore.py "
                "without backup= lists them); nothing was changed"
            )
            return
    if confirm != database:
        yield from refuse(
            f"restoring replaces {label}: confirm with --data confirm={database} (got {confirm or 'nothing'}); "
            "nothing was changed"
        )
        return
    if planning():
        current = _catalog(service)
        show_plan(
            [
                (
                    f"first: take a verified backup of {label} as it is now into {folder}/ "
                    "(restoring it undoes this restore)"
                ),
                f"restore {dump.name} (taken {manifest.get('created_at', '?')}) into {label}, in one transaction:",
            ]
            + [f"  {line}" for line in restoring.plan_lines(manifest, current)]
        )

    def run(log) -> str:
        from tasks.backups import dump as dumping

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
            shown = "; ".join(differences[:8]) + (f"; and {len(differences) - 8} more" if len(differences) > 8 else "")
            raise BackupError(
                f"restoring {dump.name} was rolled back, the target is as it was: what the restore "
                f"gave differs from the backup's manifest: {shown or 'see the manifest'}"
            )
        rows = sum(outcome.rows.values())
        if store.is_empty_backup(manifest):
            log(f"restored {dump.name}: the target holds nothing again, as recorded; its catalog equals the manifest's")
            return f"restored {dump.name} (the target is empty again); {undo}"
        log(
            f"restored {dump.name}: {len(outcome.rows)} tables, {rows:,} rows; catalog and every table's row count "
            "equal to the manifest" + ("" if manifest.get("catalog") else " (an older manifest: row counts only)")
        )
        log(undo)
        return f"restored {dump.name}; {undo}"

    yield python_step(run)


@operation(is_idempotent=False, idempotent_notice="Restores every time it is run, after confirmation.")
def restored_on_heroku(service: str, app: str, backup: str | None, confirm: str | None, backup_dir: str):
    """
    Restore a Heroku backup the deploy captured, then check the database against its manifest.

    + service: the service name of the app's database
    + app: the Heroku app
    + backup: the backup's id (``b005``, as ``heroku pg:backups`` lists it)
    + confirm: must equal ``app``, or nothing happens
    + backup_dir: where the deploy wrote ``target/heroku-APP-b005.json`` when it captured the backup

    ``heroku pg:backups:restore b005 DATABASE_URL --confirm APP`` (Heroku empties the database and
    restores the backup); then the catalog and every table's row count must equal the manifest's.
    Heroku's restore is not one transaction: a difference is reported, it cannot be rolled back.

    **Example:**

    .. code:: python

        restore.restored_on_heroku(
            name="Backup restored", service="target", app="my-app", backup="b005", confirm="my-app",
            backup_dir="backups",
        )
    """
    folder = Path(backup_dir) / "target"
    known = listing.heroku_candidates(folder, app)
    if not backup:
        show_once(
            listing.listing(known, f"{folder}/ (the Heroku backups the deploy captured)")
            + [f"restore one with --data backup=b005 --data confirm={app}"]
        )
        converged(f"listed {len(known)} recorded Heroku backup(s) of {app}; nothing was changed")
        return
    if not re.fullmatch(r"[abr]\d+", backup):
        yield from refuse(
            f"name the Heroku backup by its id: --data backup=b005 (heroku pg:backups -a {app} lists them)"
        )
        return
    path = store.heroku_manifest_path(folder, app, backup)
    manifest = store.read_json(path)
    if manifest is None or not store.is_restorable(manifest):
        ids = ", ".join(str(b.manifest.get("backup_id")) for b in known[:5]) or "none"
        yield from refuse(
            f"Heroku backup {backup} of {app} has no manifest ({path} is missing or unreadable): "
            f"restore.py restores the backups the deploy captured (recorded: {ids}); "
            f"restore another with heroku pg:backups:restore {backup} DATABASE_URL -a {app} yourself"
        )
        return
    if confirm != app:
        yield from refuse(
            f"restoring replaces the database of Heroku app {app}: confirm with --data confirm={app} "
            f"(got {confirm or 'nothing'}); nothing was changed"
        )
        return
    if planning():
        current = _catalog(service)
        show_plan(
            [
                (f"first: capture a Heroku backup of {app}'s database as it is now (restoring it undoes this restore)"),
                (f"restore Heroku backup {backup} (captured {manifest.get('created_at', '?')}) into {app}'s database:"),
            ]
            + [f"  {line}" for line in restoring.plan_lines(manifest, current)]
        )
    from tasks.backups import dump
    from tasks.heroku import app as heroku_app

    def run(log) -> str:
        before = heroku_capture_recorded(app, service, folder, log)[0].split()[0]
        undo = f"the database as it was is Heroku backup {before} (restore it to undo)"
        heroku_app.restore_backup(app, backup, log)
        state = dump.database_state(service)
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

    yield python_step(run)
