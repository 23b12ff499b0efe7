"""
Migrations proven locally (on a shadow database) and migrations applied (to the target).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pyinfra.context import state

from tasks.migrations import expected, parsed
from tasks.operations.common import (
    converged,
    operation,  # pyinfra's, guarded: any error ends as one line
    python_step,
    refuse,
    show_plan,
)
from tasks.plan import MigrationsPart, Planner


@operation()
def proven_locally(plan: Planner):
    """
    Ensure every migration file applies cleanly, in order, to a throw-away shadow database.

    + plan: the run's plan (:class:`tasks.plan.Planner`): the files, the seed files (loaded on the
      shadow too, so a bad one fails before the target is touched), the source service (the shadow
      is created on its server), the state folder (the expected schema, keyed by the files' checksums,
      and what the proof observed each file lock and rewrite: lost, the proof runs again), and the seed
      part (a seed file whose table is not in the target, with no migration pending to make it, refuses)

    The shadow's catalog becomes the expected schema. Runs only when the set of files changed.

    **Example:**

    .. code:: python

        migrations.proven_locally(
            name="Migrations proven locally",
            plan=Planner.of(run),
        )
    """
    service, migrations, state_dir, seed_files = plan.source, plan.migrations, plan.state_dir, plan.seeds
    key = expected.seed_key(migrations, [(f.filename, f.text) for f in seed_files])
    if not plan.proof_needed():
        converged(f"{len(migrations)} migration(s) already proven (expected schema cached)")
        return
    seed = plan.seed_part() if seed_files else None
    if seed is not None and seed.problem is not None and seed.refused_up_front:
        yield from refuse(seed.problem.message)  # a seed table nothing makes: the proof would fail on it
        return
    show_plan([f"prove {len(migrations)} migration(s) on a throw-away shadow database on the source server"])
    from tasks.migrations import shadow  # psycopg: imported only when there is work

    def prove(log: Callable[[str], None]) -> str:
        from tasks.risk import observe

        observer = observe.Observer()
        snapshot, version = shadow.prove(service, migrations, log, seed_files, plan.target, observer)
        observe.save(Path(state_dir), observer)  # each statement's locks and rewrites, for the risk plan
        path = expected.save_expected(Path(state_dir), migrations, snapshot, version)
        expected.mark_seeds_proven(Path(state_dir), key)
        parsed.save(Path(state_dir), migrations)  # each file split once: later runs read where its statements are
        log(f"proved {len(migrations)} migration(s) on PostgreSQL {version}; expected schema: {path.name[:12]}…")
        return f"proved {len(migrations)} migration(s) on a shadow database"

    yield python_step(prove)


SHOWN = 10  # versions named one by one in the summary; more are counted, first and last named


def _pending_lines(plan: MigrationsPart, with_sql: bool) -> list[str]:
    lines = []
    if plan.baseline:
        lines.append(
            f"baseline: record {len(plan.baseline)} migration(s) up to version {plan.baseline[-1].version} "
            "as applied (not run)"
        )
    for migration in plan.pending:
        mode = ", no transaction" if migration.no_transaction else ""
        count = len(migration.statements)
        lines.append(f"apply {migration.filename} ({count} statement{'s' if count != 1 else ''}{mode})")
        if with_sql:
            lines.extend(f"    {line}" for line in migration.sql.rstrip().splitlines())
    return lines


@operation()
def applied(
    plan: Planner,
    lock_wait_s: float = 60.0,
    lock_timeout: str = "5s",
    statement_timeout: str = "0",
    lock_retry_s: float = 0.0,
    jobs: int = 1,
):
    """
    Ensure each pending migration is applied once, in order, and recorded in ``schema_migrations``.

    + plan: the run's plan (:class:`tasks.plan.Planner`): the files, the baseline
      (``BASELINE_VERSION``: files up to it are recorded, not run), what is pending, the target service
    + lock_wait_s: how long to wait for another deploy's migration lock
    + lock_timeout: ``SET LOCAL lock_timeout`` for each migration (PostgreSQL units, ``0`` = none)
    + statement_timeout: ``SET LOCAL statement_timeout`` for each migration
    + lock_retry_s: a file whose lock was not granted in time is rolled back and retried for this long
    + jobs: connections putting back, before the files run, what an interrupted data copy set aside
      (``COPY_JOBS``; with ``DATA_MIGRATION=copy``)

    All pending files run in one session, one transaction per file (its tracking row included).
    Edited, unknown or out-of-order files stop the run before anything changes. What an interrupted
    data copy set aside (indexes, keys, triggers; foreign keys added ``NOT VALID``, validated by the
    copy) is put back first, so that the files see the schema they were written for; an object that
    cannot be put back stops the files.
    With ``--diff`` the dry run shows each pending file's SQL.

    **Example:**

    .. code:: python

        migrations.applied(
            name="Migrations applied",
            plan=Planner.of(run),
        )
    """
    service, migrations, baseline_version = plan.target, plan.migrations, plan.baseline_version
    part = plan.migrations_part()
    if part.problems:
        yield from refuse("; ".join(p.message for p in part.problems))
        return
    if part.converged:
        converged(f"all {len(migrations)} migration(s) applied")
        return
    aside = len(plan.set_aside()) if plan.copy and part.pending else 0
    show_plan(
        ([f"put back first: {aside} object(s) an interrupted data copy set aside"] if aside else [])
        + _pending_lines(part, with_sql=bool(state.config.DIFF))
    )
    from tasks.data import rebuild
    from tasks.migrations import engine as migrate  # psycopg: imported only when there is work
    from tasks.migrations.session import Limits

    limits = Limits(
        lock_wait_s=lock_wait_s,
        lock_timeout=lock_timeout,
        statement_timeout=statement_timeout,
        lock_retry_s=lock_retry_s,
    )

    def apply(log: Callable[[str], None]) -> str:
        if aside:
            rebuild.before_migrations(service, jobs, len(part.pending), log)
        done = migrate.apply_migrations(f"service={service}", migrations, baseline_version, limits, log)
        parts = []
        if done.baseline:
            parts.append(f"baseline up to {done.baseline[-1].filename.split('_', 1)[0]}")
        versions = [m.filename.split("_", 1)[0] for m in done.pending]  # as the files spell them
        if len(versions) > SHOWN:
            parts.append(f"applied {len(versions)} migrations, {versions[0]} … {versions[-1]}")
        elif versions:
            parts.append("applied " + ", ".join(versions))
        return "; ".join(parts) or "nothing left to apply (another deploy applied it)"

    yield python_step(apply)
