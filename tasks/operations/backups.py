"""
Source backup captured, and target backup captured before change.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tasks.backups import pruning
from tasks.backups import store as backups
from tasks.backups.heroku_capture import heroku_capture_recorded
from tasks.core.identity import identity_key
from tasks.facts import Fingerprint, Unreadable, read
from tasks.operations.common import (
    client_too_old,
    converged,
    operation,  # pyinfra's, guarded: any error ends as one line
    planning,
    python_step,
    refuse,
    show_plan,
)
from tasks.plan import Planner


def _take(
    service: str,
    folder: Path,
    label: str,
    keep: int,
    fingerprint: str | None,
    database: str,
    holds_nothing: bool = False,
):
    """A verified backup into ``folder``, then pruning. ``holds_nothing``: the plan found nothing a
    backup would keep, so the backup is a manifest that says so (re-proved when it is written; if the
    database is no longer empty then, a real pg_dump)."""
    ident = backups.identity(label, database, identity_key(service))
    if planning():
        found = backups.scan(folder, database, ident)
        show_plan(
            [
                f"the target holds nothing yet: record that in {folder}/ (no pg_dump needed)"
                if holds_nothing
                else f"take a verified backup of {label} into {folder}/"
            ]
            + [f"prune {path.name} (keeping {keep})" for path in backups.to_prune(found, keep - 1)]
            + [f"set aside {path.name} ({why})" for path, why in found.damaged]
        )
    from tasks.backups import dump, empty  # psycopg: imported only when there is work

    def take(log: Callable[[str], None]) -> str:
        backup = (holds_nothing and empty.record(service, folder, label, fingerprint, log)) or dump.take_backup(
            service, folder, label, fingerprint, log
        )
        tidied = pruning.tidy(folder, database, keep, protect=backup.path, ident=ident)
        m = backup.manifest
        if backups.is_empty_backup(m):
            log(f"backup {backup.path} records that {label} holds nothing (no table, no object): no pg_dump needed")
        else:
            log(
                f"backup {backup.path} verified: {m['tables']} tables, {sum(m['rows'].values()):,} rows, "
                f"{m['size_bytes'] / 1e6:,.1f} MB, sha256 {m['sha256'][:12]}…"
            )
        if tidied.describe(keep):
            log(f"{folder}: {tidied.describe(keep)}")
        done = (
            f"recorded the empty target as {backup.path.name} (no pg_dump)"
            if backups.is_empty_backup(m)
            else f"backup {backup.path.name}"
        )
        return done + (f" ({len(tidied.set_aside)} set aside)" if tidied.set_aside else "")

    return python_step(take)


def _converged_or_pruned(message: str, folder: Path, found: backups.Scan, database: str, ident: str, keep: int):
    """No new backup needed: converged, unless more than ``keep`` are there (BACKUP_KEEP lowered)."""
    extra = backups.to_prune(found, keep)
    if not extra:
        converged(message)
        return
    show_plan([message] + [f"prune {path.name} (keeping {keep})" for path in extra])
    yield _prune(folder, database, ident, keep)


def _prune(folder: Path, database: str, ident: str, keep: int):
    """More verified backups than ``keep`` (BACKUP_KEEP was lowered): prune them, naming each."""

    def prune(log) -> str:
        tidied = pruning.tidy(folder, database, keep, ident=ident)
        if tidied.describe(keep):
            log(f"{folder}: {tidied.describe(keep)}")
        return f"pruned {', '.join(p.name for p in tidied.pruned)}" if tidied.pruned else "nothing to prune"

    return python_step(prune)


@operation()
def source_captured(plan: Planner, label: str, backup_dir: str, keep: int = 10):
    """
    Ensure a verified ``pg_dump -Fc`` backup of the source's current state exists.

    + plan: the run's plan (:class:`tasks.plan.Planner`): the source service, and whether the proof
      runs first in this run (its shadow database on the same server moves the cluster's
      transaction id, so the plan says a backup will be taken)
    + label: what to call the source in messages (a redacted URL)
    + backup_dir: backups go to ``<backup_dir>/source/``
    + keep: verified backups kept per database; older ones are pruned (by name, in the output), never
      the newest; lowering it prunes on the next run even when no new backup is needed

    A new backup is taken when the source changed since the last verified one (its fingerprint:
    the cluster's next transaction id, the tables' files, the sequences), or when that backup is
    missing, truncated or unverified.

    **Example:**

    .. code:: python

        backups.source_captured(
            name="Source backup captured",
            plan=Planner.of(run),
            label="postgres://postgres:***@localhost:5432/whynot",
            backup_dir="backups",
        )
    """
    service, after_proof = plan.source, plan.proof_needed()
    try:
        info = read(Fingerprint, service)
    except Unreadable as exc:
        yield from refuse(f"source {label} is not reachable: {exc.error}: is the local database running?")
        return
    problem = client_too_old(label, info["version_num"])
    if problem:
        yield from refuse(problem)
        return
    folder = Path(backup_dir) / "source"
    ident = backups.identity(label, info["database"], identity_key(service))
    found = backups.scan(folder, info["database"], ident)
    latest = found.verified
    if planning() and after_proof:
        show_plan(
            [
                (
                    "the proof's shadow database, made on the source's server first, moves its transaction id: "
                    "the source backup is taken again after it"
                )
            ]
        )
    elif latest and latest[-1].fingerprint == info["fingerprint"]:
        current = f"backup {latest[-1].path.name} is current (the source has not changed since)"
        yield from _converged_or_pruned(current, folder, found, info["database"], ident, keep)
        return
    yield _take(service, folder, label, keep, info["fingerprint"], info["database"])


def _heroku_capture(app: str, reasons: list[str], service: str, folder: Path):
    from tasks.heroku import app as heroku_app
    from tasks.heroku.cli import HerokuError

    try:
        plan = heroku_app.pg_info(app)
    except HerokuError as exc:
        yield from refuse(str(exc))
        return
    if plan.status.lower() != "available":
        yield from refuse(
            f"Heroku app {app}'s database is {plan.status}, not Available: wait (heroku pg:wait -a {app}) and re-run"
        )
        return
    show_plan(
        [
            (
                f"the target will change ({', '.join(reasons)}): capture a Heroku backup first "
                f"(heroku pg:backups:capture -a {app})"
            ),
            f"Heroku database: {plan.summary()}",
        ]
    )

    def capture(log) -> str:
        return f"Heroku backup {heroku_capture_recorded(app, service, folder, log)[0]}"

    yield python_step(capture)


@operation()
def target_captured_before_change(plan: Planner, label: str, backup_dir: str, keep: int = 10):
    """
    Ensure a verified backup of the target exists before this run changes it.

    + plan: the run's plan (:class:`tasks.plan.Planner`): whether the target changes, and why
      (pending migrations, rows to copy, seed rows to insert); its target service; its Heroku app
    + label: what to call the target in messages
    + backup_dir: backups go to ``<backup_dir>/target/`` (on Heroku: the manifest of each captured
      backup, ``heroku-APP-b005.json``: its catalog and row counts, for ``restore.py``)
    + keep: verified backups kept per database (lowering it prunes on the next run, named in the output)

    On Heroku: ``heroku pg:backups:capture`` (confirmed with ``pg:backups:info``) instead of a local
    ``pg_dump``, after ``pg:info`` says the database is available.
    A run the plan knows is bound to fail (a copy that will refuse: large objects, a column of another
    name or type, a conflict) stops here, before the backup. Nothing changes → no backup.
    A target that holds nothing (a first deploy): the backup is a manifest that says so, no ``pg_dump``
    (:mod:`tasks.backups.empty`).

    **Example:**

    .. code:: python

        backups.target_captured_before_change(
            name="Target backup captured",
            plan=Planner.of(run),
            label="postgres://app:***@db.example.com:5432/app",
            backup_dir="backups",
        )
    """
    service, heroku_app = plan.target, plan.heroku_app.name if plan.heroku_app else None
    change = plan.target_part()
    if change.refusal:
        yield from refuse(change.refusal.message)
        return
    folder = Path(backup_dir) / "target"
    if not change.changes:
        message = "nothing will change in the target: no backup needed"
        copying = plan.copy_part()
        if copying.todo is not None and copying.todo.replace:  # the copy's replace is backed up by the copy
            message = "no other change in the target: the copy takes its own backup before it replaces"
        try:
            info = None if heroku_app else read(Fingerprint, service)
        except Unreadable:
            info = None
        if info is None:
            converged(message)
            return
        ident = backups.identity(label, info["database"], identity_key(service))
        yield from _converged_or_pruned(
            message, folder, backups.scan(folder, info["database"], ident), info["database"], ident, keep
        )
        return
    if heroku_app:
        yield from _heroku_capture(heroku_app, list(change.reasons), service, folder)
        return
    try:
        info = read(Fingerprint, service)
    except Unreadable as exc:
        yield from refuse(f"target {label} is not reachable: {exc.error}")
        return
    show_plan([f"the target will change ({', '.join(change.reasons)}): back it up first"])
    from tasks.backups.empty import holds_nothing

    history = plan.migrations_part().history
    yield _take(
        service,
        folder,
        label,
        keep,
        info["fingerprint"],
        info["database"],
        history is not None and holds_nothing(history),
    )
