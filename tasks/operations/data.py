"""
Data copied (``DATA_MIGRATION=copy``): the source's rows present in the target, verified.
"""

from __future__ import annotations

from pathlib import Path

from pyinfra import host
from tasks.operations.common import operation  # pyinfra's, guarded: any error ends as one line

from tasks.core.lock import LockTimeout
from tasks.facts import FactError, TableChecksums, read
from tasks.operations.common import converged, planning, python_step, refuse, show_plan


@operation()
def copied(source_service: str, target_service: str, replace: bool = False, backup_dir: str | None = None,
           keep: int = 10):
    """
    Ensure every source table's rows are in the target: equal row counts and content checksums.

    + source_service: the service name of the source database
    + target_service: the service name of the target database
    + replace: reload a non-empty target table that differs (``COPY_CONFLICT=replace``); refused otherwise
    + backup_dir: with ``replace``, a verified target backup is taken here first
    + keep: verified backups kept per database

    One transaction per table, foreign-key order, verified before each commit; sequences are set
    to the source's values. A table whose rows already match is left alone.

    **Example:**

    .. code:: python

        data.copied(
            name="Data copied",
            source_service="source",
            target_service="target",
        )
    """
    from tasks.data.copy import TableState, compare

    source = read(TableChecksums, source_service, TableChecksums._script())
    target = read(TableChecksums, target_service, TableChecksums._script())
    for side, found in (("source", source), ("target", target)):
        if isinstance(found, FactError):
            yield from refuse(f"cannot read the {side}'s tables for the copy: {found['error']}")
            return
    states = {side: {t: TableState(t, rows, digest) for t, rows, digest in found}
              for side, found in (("source", source), ("target", target))}
    plan = compare(states["source"], states["target"], [t for t, _, _ in source], replace)
    if plan.missing_in_target and not planning():
        yield from refuse(f"table {plan.missing_in_target[0]} exists in the source but not in the target: "
                          "create it in a migration first")
        return
    if plan.conflicts:
        want, have = plan.conflicts[0]
        yield from refuse(f"table {want.table} in the target is not empty and differs from the source "
                          f"({have.rows:,} rows there, {want.rows:,} in the source): nothing was copied; "
                          "set COPY_CONFLICT=replace to reload it (a target backup is taken first)")
        return
    if not (plan.copy or plan.replace or plan.missing_in_target):
        converged(f"all {len(plan.in_sync)} table(s) equal in source and target (rows and checksums)")
        return
    show_plan(
        [f"copy {states['source'][t].rows:,} rows into {t}" for t in plan.copy + plan.missing_in_target]
        + [f"replace {t}: {states['target'][t].rows:,} rows there, {states['source'][t].rows:,} in the source"
           for t in plan.replace]
    )
    from tasks.data import copy as datacopy
    from tasks.backups import dump  # psycopg: imported only when there is work

    def before_replace() -> None:
        if backup_dir:
            backup = dump.take_backup(target_service, Path(backup_dir) / "target", "target (before replace)", None,
                                      host.log)
            host.log(f"backup {backup.path} verified before replacing tables")

    def run(log) -> None:
        done = datacopy.copy_data(source_service, target_service, replace, log, before_replace)
        return (f"copied {len(done.copy)} table(s)" + (f", replaced {len(done.replace)}" if done.replace else ""))

    yield python_step(run, (datacopy.CopyError, dump.BackupError, LockTimeout))
