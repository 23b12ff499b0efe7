"""
Data copied (``DATA_MIGRATION=copy``): the source's rows present in the target, verified.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pyinfra import host

from tasks.data import plan as copyplan
from tasks.data import refusals as copyrefusals
from tasks.migrations import expected
from tasks.operations.common import (
    converged,
    operation,  # pyinfra's, guarded: any error ends as one line
    planning,
    python_step,
    refuse,
    show_plan,
    will_check,
)
from tasks.plan import Planner


@operation()
def copied(plan: Planner, backup_dir: str | None = None, keep: int = 10, jobs: int = 1, split_mb: int = 64):
    """
    Ensure every source relation's rows are in the target: equal row counts and content checksums.

    + plan: the run's plan (:class:`tasks.plan.Planner`): both sides as the copy sees them, what it
      writes; its ``copy_replace`` (``COPY_CONFLICT=replace``) reloads a non-empty target table that
      differs (refused otherwise)
    + backup_dir: with ``replace``, a verified target backup is taken here first
    + keep: verified backups kept per database
    + jobs: tables loaded at once (``COPY_JOBS``)
    + split_mb: a table larger than this copied into empty is copied in ranges by all the jobs
      (``COPY_SPLIT_MB``)

    Tables at any place in a partition or inheritance tree, columns matched by name; one
    transaction per table, each after the tables it references, verified before its commit;
    then populated materialized views refreshed, sequences moved forward (never back), the loaded
    tables analysed, and an independent completeness check. A table whose rows already match is
    left alone; a replace's cascades are reloaded from the source or refused by name.

    **Example:**

    .. code:: python

        data.copied(
            name="Data copied",
            plan=Planner.of(run),
        )
    """
    source_service, target_service, replace = plan.source, plan.target, plan.copy_replace
    part = plan.copy_part()
    if part.unreadable:
        yield from refuse(part.unreadable.message)
        return
    assert part.source is not None and part.target is not None and part.todo is not None
    source, target, todo = part.source, part.target, part.todo
    # at execute time a missing table refuses too; with migrations pending, compared with the expected schema
    problem = copyrefusals.refusal(source, target, todo, planning(), part.expected)
    if problem:
        yield from refuse(problem)
        return
    if part.expected is not None and planning() and not todo.anything:  # nothing to copy now; the
        will_check(f"will check after the pending migrations run ({todo.in_sync} table(s) equal now)")  # migrations
        return  # change what the copy meets
    if part.expected is not None:  # the migrations change what the copy meets: it checks again after them
        show_plan(copyplan.plan_lines(source, target, todo) + ["checked again after the pending migrations"])
    elif not todo.anything:
        converged(
            f"all {todo.in_sync} table(s), {len(source.views)} materialized view(s) and "
            f"{len(source.sequences)} sequence(s) not behind the source's (tables: rows and checksums)"
        )
        return
    else:
        show_plan(copyplan.plan_lines(source, target, todo))
    from tasks.backups import dump  # psycopg: imported only when there is work
    from tasks.data import copy as datacopy

    def before_replace() -> None:
        if backup_dir:
            backup = dump.take_backup(
                target_service,
                Path(backup_dir) / "target",
                "target",
                None,
                host.log,
                purpose="before a COPY_CONFLICT=replace",
            )
            host.log(f"backup {backup.path} verified before replacing tables")

    migrated = bool(plan.migrations_part().pending)  # this run applies migrations before the copy
    wanted = expected.load_expected(Path(plan.state_dir), plan.migrations)  # checked again after the rebuild

    def run(log: Callable[[str], None]) -> str:
        try:
            # the plan's checksums (tables with rows in the target) are not computed again, unless this
            # run's migrations changed the target since
            known = None if migrated else datacopy.Known.of(source, target)
            done = datacopy.copy_data(
                source_service, target_service, replace, log, before_replace, jobs, known, split_mb, wanted
            )
        except datacopy.CopyError as exc:
            if not migrated:
                raise
            # a refusal's "nothing was changed" is the copy's; this run's migrations were applied before it
            said = (
                str(exc)
                .replace("nothing was changed", "the copy changed nothing (this run's migrations stay applied)")
                .replace("nothing was copied", "the copy changed nothing (this run's migrations stay applied)")
            )
            raise datacopy.CopyError(said) from exc
        parts = (
            [f"copied {len(done.copy)} table(s)"]
            + ([f"replaced {len(done.replace)}"] if done.replace else [])
            + ([f"refreshed {len(done.views)} view(s)"] if done.views else [])
            + ([f"moved {done.sequences} sequence(s) forward"] if done.sequences else [])
            + ([f"analysed {len(done.analyzed)}"] if done.analyzed else [])
        )
        return ", ".join(parts) + ", complete"

    yield python_step(run)
