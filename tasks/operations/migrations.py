"""
Migrations proven locally (on a shadow database) and migrations applied (to the target).
"""

from __future__ import annotations

from pathlib import Path

from tasks.operations.common import operation  # pyinfra's, guarded: any error ends as one line
from pyinfra.context import state

from tasks.migrations import expected, parsed
from tasks.facts import FactError, MigrationHistory, read
from tasks.migrations.files import Migration
from tasks.migrations.plan import plan_migrations
from tasks.operations.common import converged, python_step, refuse, show_plan


def proof_needed(migrations: list[Migration], state_dir: str, seed_files: list | None = None) -> bool:
    """Whether this set of files (and seed files) was never proven: the proof runs in this run."""
    key = expected.seed_key(migrations, [(f.filename, f.text) for f in seed_files or []])
    return expected.load_expected(Path(state_dir), migrations) is None or not expected.seeds_proven(Path(state_dir), key)


@operation()
def proven_locally(service: str, migrations: list[Migration], state_dir: str, seed_files: list | None = None):
    """
    Ensure every migration file applies cleanly, in order, to a throw-away shadow database.

    + service: the service name of the source server (the shadow is created there)
    + migrations: the files, as read by ``tasks.migrations.files.read_migrations``
    + state_dir: where the expected schema is cached, keyed by the files' checksums
    + seed_files: seed files to load on the shadow too, so a bad one fails before the target is touched

    The shadow's catalog becomes the expected schema. Runs only when the set of files changed.

    **Example:**

    .. code:: python

        migrations.proven_locally(
            name="Migrations proven locally",
            service="source",
            migrations=read_migrations(Path("files/migrations")),
            state_dir=".pgconverge",
        )
    """
    seed_files = seed_files or []
    key = expected.seed_key(migrations, [(f.filename, f.text) for f in seed_files])
    if not proof_needed(migrations, state_dir, seed_files):
        converged(f"{len(migrations)} migration(s) already proven (expected schema cached)")
        return
    show_plan([f"prove {len(migrations)} migration(s) on a throw-away shadow database on the source server"])
    from tasks.migrations import shadow  # psycopg: imported only when there is work

    def prove(log) -> None:
        from tasks.risk import observe

        observer = observe.Observer()
        snapshot, version = shadow.prove(service, migrations, log, seed_files, observer)
        observe.save(Path(state_dir), observer)  # each statement's locks and rewrites, for the risk plan
        path = expected.save_expected(Path(state_dir), migrations, snapshot, version)
        expected.mark_seeds_proven(Path(state_dir), key)
        parsed.save(Path(state_dir), migrations)  # each file split once: later runs read where its statements are
        log(f"proved {len(migrations)} migration(s) on PostgreSQL {version}; expected schema: {path.name[:12]}…")
        return f"proved {len(migrations)} migration(s) on a shadow database"

    yield python_step(prove)


def migrations_pending(service: str, migrations: list[Migration], baseline_version: int | None = None) -> bool:
    """Whether the target will change by migrations in this run (or cannot be read: assume so)."""
    history = read(MigrationHistory, service)
    if isinstance(history, FactError):
        return True
    plan = plan_migrations(migrations, history, baseline_version)
    return bool(plan.problems or plan.pending or plan.baseline)


SHOWN = 10  # versions named one by one in the summary; more are counted, first and last named


def _pending_lines(plan, with_sql: bool) -> list[str]:
    lines = []
    if plan.baseline:
        lines.append(
            f"baseline: record {len(plan.baseline)} migration(s) up to version {plan.baseline[-1].version} as applied (not run)"
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
    service: str,
    migrations: list[Migration],
    baseline_version: int | None = None,
    lock_wait_s: float = 60.0,
    lock_timeout: str = "5s",
    statement_timeout: str = "0",
    lock_retry_s: float = 0.0,
):
    """
    Ensure each pending migration is applied once, in order, and recorded in ``schema_migrations``.

    + service: the service name of the target database
    + migrations: the files, as read by ``tasks.migrations.files.read_migrations``
    + baseline_version: adopt a database without history at this version (files up to it are recorded, not run)
    + lock_wait_s: how long to wait for another deploy's migration lock
    + lock_timeout: ``SET LOCAL lock_timeout`` for each migration (PostgreSQL units, ``0`` = none)
    + statement_timeout: ``SET LOCAL statement_timeout`` for each migration
    + lock_retry_s: a file whose lock was not granted in time is rolled back and retried for this long

    All pending files run in one session, one transaction per file (its tracking row included).
    Edited, unknown or out-of-order files stop the run before anything changes.
    With ``--diff`` the dry run shows each pending file's SQL.

    **Example:**

    .. code:: python

        migrations.applied(
            name="Migrations applied",
            service="target",
            migrations=read_migrations(Path("files/migrations")),
        )
    """
    history = read(MigrationHistory, service)
    if isinstance(history, FactError):
        yield from refuse(f"cannot read the target's migration history: {history['error']}")
        return
    plan = plan_migrations(migrations, history, baseline_version)
    if plan.problems:
        yield from refuse("; ".join(plan.problems))
        return
    if plan.converged:
        converged(f"all {len(migrations)} migration(s) applied")
        return
    show_plan(_pending_lines(plan, with_sql=bool(state.config.DIFF)))
    from tasks.migrations import engine as migrate  # psycopg: imported only when there is work

    limits = migrate.Limits(lock_wait_s=lock_wait_s, lock_timeout=lock_timeout, statement_timeout=statement_timeout,
                             lock_retry_s=lock_retry_s)

    def apply(log) -> None:
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
