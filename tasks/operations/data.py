"""
Data copied (``DATA_MIGRATION=copy``): the source's rows present in the target, verified.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from pyinfra import host
from tasks.operations.common import operation  # pyinfra's, guarded: any error ends as one line

from tasks.data import plan as copyplan
from tasks.facts import CopyState, FactError, read
from tasks.operations.common import converged, planning, python_step, refuse, show_plan


_proven_now: dict[str, dict | None] = {}  # expected schemas proven while planning, by the files' set checksum


def expected_after(source_service: str, target_service: str, migrations: list | None, state_dir: str | None,
                   baseline_version: int | None = None) -> dict[str, dict[str, str]] | None:
    """The tables the copy will meet once the pending migrations have run (the expected schema's),
    or None when no migration is pending (the target's own are). A set of files not proven yet is
    proven now on a throw-away shadow database of the source server (as the proof step does), so a
    copy bound to fail is said before the backup and before any migration."""
    from tasks.operations.migrations import migrations_pending

    if not migrations or state_dir is None or not migrations_pending(target_service, migrations, baseline_version):
        return None
    from tasks.migrations import expected
    from tasks.migrations.files import set_checksum

    catalog = expected.load_expected(Path(state_dir), migrations)
    key = set_checksum(migrations)
    if catalog is None and key not in _proven_now:
        from tasks.migrations import shadow  # psycopg: only when a copy meets unproven migrations

        try:
            _proven_now[key] = shadow.prove(source_service, migrations, lambda line: None)[0]
        except Exception:  # noqa: BLE001 - the proof step itself fails, and says why
            _proven_now[key] = None
    catalog = catalog if catalog is not None else _proven_now[key]
    return copyplan.expected_tables(catalog) if catalog is not None else None


@operation()
def copied(source_service: str, target_service: str, replace: bool = False, backup_dir: str | None = None,
           keep: int = 10, jobs: int = 1, migrations: list | None = None, state_dir: str | None = None,
           baseline_version: int | None = None):
    """
    Ensure every source relation's rows are in the target: equal row counts and content checksums.

    + source_service: the service name of the source database
    + target_service: the service name of the target database
    + replace: reload a non-empty target table that differs (``COPY_CONFLICT=replace``); refused otherwise
    + backup_dir: with ``replace``, a verified target backup is taken here first
    + keep: verified backups kept per database
    + jobs: tables loaded at once (``COPY_JOBS``)
    + migrations, state_dir, baseline_version: the migration files, the proof's cache and the
      baseline: with migrations pending, the source is compared with the expected schema (what the
      copy will meet), so a copy bound to fail is said by the dry run

    Tables at any place in a partition or inheritance tree, columns matched by name; one
    transaction per table, each after the tables it references, verified before its commit;
    then populated materialized views refreshed, sequences moved forward (never back), the loaded
    tables analysed, and an independent completeness check. A table whose rows already match is
    left alone; a replace's cascades are reloaded from the source or refused by name.

    **Example:**

    .. code:: python

        data.copied(
            name="Data copied",
            source_service="source",
            target_service="target",
        )
    """
    found = _read_sides(source_service, target_service, counts=planning(), replace=replace)
    if isinstance(found, str):
        yield from refuse(found)
        return
    source, target = found
    todo = copyplan.pending(source, target, replace)
    after = expected_after(source_service, target_service, migrations, state_dir, baseline_version)
    problem = copyplan.refusal(source, target, todo, planning(), after)
    if problem:
        yield from refuse(problem)
        return
    if after is not None:  # the migrations change what the copy meets: it checks again after them
        show_plan(copyplan.plan_lines(source, target, todo) + ["checked again after the pending migrations"])
    elif not todo.anything:
        converged(f"all {todo.in_sync} table(s), {len(source.views)} materialized view(s) and "
                  f"{len(source.sequences)} sequence(s) equal in source and target (rows and checksums)")
        return
    else:
        show_plan(copyplan.plan_lines(source, target, todo))
    from tasks.data import copy as datacopy
    from tasks.backups import dump  # psycopg: imported only when there is work

    def before_replace() -> None:
        if backup_dir:
            backup = dump.take_backup(target_service, Path(backup_dir) / "target", "target (before replace)", None,
                                      host.log)
            host.log(f"backup {backup.path} verified before replacing tables")

    def run(log: Callable[[str], None]) -> str:
        done = datacopy.copy_data(source_service, target_service, replace, log, before_replace, jobs)
        parts = [f"copied {len(done.copy)} table(s)"] + ([f"replaced {len(done.replace)}"] if done.replace else []) \
            + ([f"refreshed {len(done.views)} view(s)"] if done.views else []) \
            + ([f"moved {done.sequences} sequence(s) forward"] if done.sequences else []) \
            + ([f"analysed {len(done.analyzed)}"] if done.analyzed else [])
        return ", ".join(parts) + ", complete"

    yield python_step(run)


def _read_sides(source_service: str, target_service: str, counts: bool, replace: bool = False):
    """Both sides as the plan sees them, or the line saying which one cannot be read."""
    # The target first (cheap while it is empty), then the source: checksums only where the target's
    # table is not empty, exact counts only for the plan shown at plan time (else: has it a row?).
    # with COPY_CONFLICT=replace: the keys a replace's DELETE cascades through, and the rows they reach
    target = read(CopyState, target_service, copyplan.script(with_cascades=replace))
    if isinstance(target, FactError):
        return f"cannot read the target's tables for the copy: {target['error']}"
    source = read(CopyState, source_service, copyplan.script(copyplan.need_checksums(target), None if counts else []))
    if isinstance(source, FactError):
        return f"cannot read the source's tables for the copy: {source['error']}"
    return source, target


def copy_refusal(source_service: str, target_service: str, replace: bool,
                 expected: dict[str, dict[str, str]] | None = None) -> str | None:
    """Why the copy will refuse, known before any change (large objects, columns of another name or
    type, conflicts, rows a replace's cascade would lose; a missing table is no reason: the
    migrations may create it), or None. With migrations pending, ``expected`` is the schema the copy
    will meet (:func:`expected_after`). The target backup asks first, so a run bound to fail neither
    takes a backup nor migrates."""
    found = _read_sides(source_service, target_service, counts=False, replace=replace)
    if isinstance(found, str):
        return None  # the copy step says it, with its own context
    source, target = found
    return copyplan.refusal(source, target, copyplan.pending(source, target, replace), True, expected)


def data_to_copy(source_service: str, target_service: str) -> bool | None:
    """Whether the copy will write to the target (rows counted, not checksummed; None: unreadable)."""
    target = read(CopyState, target_service, copyplan.script([]))
    if isinstance(target, FactError):
        return None
    source = read(CopyState, source_service, copyplan.script([], copyplan.need_checksums(target)))
    if isinstance(source, FactError):
        return None
    return copyplan.pending(source, target, replace=True).anything
