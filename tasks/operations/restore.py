"""
Backup restored: an explicit, confirmed restore (``restore.py``), never part of ``deploy.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

from tasks.operations.common import operation  # pyinfra's, guarded: any error ends as one line

from tasks.backups.dump import BackupError
from tasks.backups import restore as restoring
from tasks.backups import store
from tasks.facts import CatalogSnapshot, Unreadable, read
from tasks.operations.common import planning, python_step, refuse, show_plan


@operation(is_idempotent=False, idempotent_notice="Restores every time it is run, after confirmation.")
def restored(service: str, backup: str | None, confirm: str | None, database: str, label: str):
    """
    Return the target to exactly the state of a verified backup, after the target's name was typed.

    + service: the service name of the target database
    + backup: path of a ``.dump`` file with its manifest beside it (the backup of a target that held
      nothing is its manifest alone: ``.json``; restoring it empties the target again)
    + confirm: must equal ``database``, or nothing happens
    + database: the target's database name
    + label: what to call the target in messages

    The dump's sha256 is checked against its manifest before the target is touched. Then, in one
    transaction: every object the role owns is dropped (so what was created after the backup goes
    too), the dump is restored (``--no-owner --no-acl``), and the catalog and every table's row count
    are compared with the manifest's; the transaction commits only when they are equal.

    **Example:**

    .. code:: python

        restore.restored(
            name="Backup restored",
            service="target",
            backup="backups/target/app-20261123T101500000000Z.dump",
            confirm="app",
            database="app",
            label="postgres://app:***@db.example.com:5432/app",
        )
    """
    if not backup:
        yield from refuse("no backup named: pass --data backup=backups/<source|target>/<file>.dump")
        return
    dump = Path(backup)
    if store.is_empty_backup(store.read_manifest(dump)):
        dump = store.manifest_path(dump)  # the backup of an empty target is its manifest (named .dump or .json)
    try:
        manifest = restoring.verified_manifest(dump)
    except BackupError as exc:
        yield from refuse(str(exc))
        return
    if confirm != database:
        yield from refuse(
            f"restoring replaces {label}: confirm with --data confirm={database} (got {confirm or 'nothing'}); nothing was changed"
        )
        return
    if store.is_empty_backup(manifest) and manifest.get("database") != database:
        yield from refuse(f"{dump.name} records that database {manifest.get('database')} held nothing, and the target is "
                          f"database {database}: restoring it would only drop {database}'s objects; name a backup of "
                          f"{database} (they are in its backup folder); nothing was changed")
        return
    if planning():
        current = _catalog(service)
        show_plan([f"restore {dump.name} (taken {manifest.get('created_at', '?')}) into {label}, in one transaction:"]
                  + [f"  {line}" for line in restoring.plan_lines(manifest, current)])

    def run(log) -> str:
        outcome = restoring.restore_exactly(service, dump, manifest, log)
        differences = restoring.mismatches(manifest, outcome)
        if not outcome.committed or differences:
            shown = "; ".join(differences[:8]) + (f"; and {len(differences) - 8} more" if len(differences) > 8 else "")
            raise BackupError(f"restoring {dump.name} was rolled back, the target is as it was: what the restore "
                              f"gave differs from the backup's manifest: {shown or 'see the manifest'}")
        rows = sum(outcome.rows.values())
        if store.is_empty_backup(manifest):
            log(f"restored {dump.name}: the target holds nothing again, as recorded; its catalog equals the manifest's")
            return f"restored {dump.name} (the target is empty again)"
        log(f"restored {dump.name}: {len(outcome.rows)} tables, {rows:,} rows; catalog and every table's row count "
            "equal to the manifest" + ("" if manifest.get("catalog") else " (an older manifest: row counts only)"))
        return f"restored {dump.name}"

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
    if not backup or not re.fullmatch(r"[abr]\d+", backup):
        yield from refuse(f"name the Heroku backup by its id: --data backup=b005 (heroku pg:backups -a {app} lists them)")
        return
    path = store.heroku_manifest_path(Path(backup_dir) / "target", app, backup)
    manifest = store.read_json(path)
    if not store.is_restorable(manifest):
        yield from refuse(f"Heroku backup {backup} of {app} has no manifest ({path} is missing or unreadable): "
                          "restore.py restores the backups the deploy captured (it records each one then); "
                          f"restore another with heroku pg:backups:restore {backup} DATABASE_URL -a {app} yourself")
        return
    if confirm != app:
        yield from refuse(f"restoring replaces the database of Heroku app {app}: confirm with --data confirm={app} "
                          f"(got {confirm or 'nothing'}); nothing was changed")
        return
    if planning():
        current = _catalog(service)
        show_plan([f"restore Heroku backup {backup} (captured {manifest.get('created_at', '?')}) into {app}'s database:"]
                  + [f"  {line}" for line in restoring.plan_lines(manifest, current)])
    from tasks.backups import dump
    from tasks.heroku import app as heroku_app

    def run(log) -> str:
        heroku_app.restore_backup(app, backup, log)
        state = dump.database_state(service)
        differences = restoring.mismatches(manifest, restoring.Outcome(True, state["catalog"], state["rows"]))
        if differences:
            raise BackupError(f"Heroku restored {backup} into {app}, but the database differs from the manifest "
                              f"recorded when it was captured: {'; '.join(differences[:8])}; "
                              f"see heroku pg:backups:info {backup} -a {app}")
        log(f"restored Heroku backup {backup}: {len(state['rows'])} tables, {sum(state['rows'].values()):,} rows; "
            "catalog and every table's row count equal to the manifest")
        return f"restored Heroku backup {backup}"

    yield python_step(run)
