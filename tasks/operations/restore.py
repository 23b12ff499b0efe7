"""
Backup restored: an explicit, confirmed restore (``restore.py``), never part of ``deploy.py``.
"""

from __future__ import annotations

from pathlib import Path

from pyinfra import host

from tasks.backups import listing, pruning, restore_request, restore_steps, store
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
    if not backup:
        known = listing.candidates(folder, database, ident)
        show_once(
            listing.listing(known, f"{folder}/") + [f"restore one with --data backup=FILE --data confirm={database}"]
        )
        converged(f"listed {len(known)} verified backup(s) of {label}; nothing was changed")
        return
    held = listing.find(backup, folder)
    if held is not None:  # no run prunes its folder from now until this process ends (the prompt, the restore)
        try:
            pruning.hold_until_exit(held.parent, host.log)
        except pruning.FolderLocked as exc:
            yield from refuse(str(exc))
            return
    asked = restore_request.local(service, backup, confirm, database, label, folder, ident)  # finds it again
    if asked.problem or asked.dump is None or asked.manifest is None:
        yield from refuse(str(asked.problem))
        return
    if planning():
        show_plan(restore_steps.local_plan(label, folder, asked.dump, asked.manifest, _catalog(service)))
    yield python_step(restore_steps.local_step(service, folder, label, asked.dump, asked.manifest))


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
    if not backup:
        known = listing.heroku_candidates(folder, app)
        show_once(
            listing.listing(known, f"{folder}/ (the Heroku backups the deploy captured)")
            + [f"restore one with --data backup=b005 --data confirm={app}"]
        )
        converged(f"listed {len(known)} recorded Heroku backup(s) of {app}; nothing was changed")
        return
    asked = restore_request.heroku(app, backup, confirm, folder)
    if asked.problem or asked.manifest is None:
        yield from refuse(str(asked.problem))
        return
    if planning():
        show_plan(restore_steps.heroku_plan(app, backup, asked.manifest, _catalog(service)))
    yield python_step(restore_steps.heroku_step(service, app, backup, folder, asked.manifest))
