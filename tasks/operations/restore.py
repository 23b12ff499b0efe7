"""
Backup restored: an explicit, confirmed restore (``restore.py``), never part of ``deploy.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

from tasks.operations.common import operation  # pyinfra's, guarded: any error ends as one line

from tasks.backups import store as backups
from tasks.operations.common import python_step, refuse, show_plan


@operation(is_idempotent=False, idempotent_notice="Restores every time it is run, after confirmation.")
def restored(service: str, backup: str | None, confirm: str | None, database: str, label: str):
    """
    Restore a verified backup into the target, after the target's name was typed to confirm.

    + service: the service name of the target database
    + backup: path of a ``.dump`` file with its verified manifest beside it
    + confirm: must equal ``database``, or nothing happens
    + database: the target's database name
    + label: what to call the target in messages

    ``pg_restore --clean --if-exists --no-owner --no-acl --single-transaction``: all or nothing.
    Afterwards every table's row count is checked against the backup's manifest.

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
    try:
        manifest = json.loads(backups.manifest_path(dump).read_text())
    except (OSError, ValueError):
        yield from refuse(f"{dump} has no readable manifest ({backups.manifest_path(dump).name}): only verified backups restore")
        return
    if not (manifest.get("verified") and backups.file_matches(dump, manifest)):
        yield from refuse(f"{dump} is not the verified file its manifest describes (truncated or replaced): pick another backup")
        return
    if confirm != database:
        yield from refuse(
            f"restoring replaces {label}: confirm with --data confirm={database} (got {confirm or 'nothing'}); nothing was changed"
        )
        return
    show_plan([f"restore {dump.name} ({manifest['tables']} tables, {sum(manifest['rows'].values()):,} rows) into {label}"])
    from tasks.backups import dump as dumps  # psycopg: imported only when there is work

    def run(log) -> None:
        counts = dumps.restore(service, dump, log)
        wrong = {t: (n, counts.get(t)) for t, n in manifest["rows"].items() if counts.get(t) != n}
        if wrong:
            details = ", ".join(f"{t}: {n} in the backup, {got} now" for t, (n, got) in sorted(wrong.items())[:5])
            raise dumps.BackupError(f"restored, but row counts differ from the manifest: {details}")
        log(f"restored {dump.name}: {len(counts)} tables, {sum(counts.values()):,} rows, all equal to the manifest")
        return f"restored {dump.name}"

    yield python_step(run, (dumps.BackupError,))
