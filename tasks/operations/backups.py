"""
Source backup captured, and target backup captured before change.
"""

from __future__ import annotations

import time
from pathlib import Path

from tasks.operations.common import operation  # pyinfra's, guarded: any error ends as one line

from tasks.backups import pruning
from tasks.backups import store as backups
from tasks.data import seed
from tasks.facts import FactError, Fingerprint, MigrationHistory, RowCounts, read
from tasks.migrations.files import Migration
from tasks.migrations.plan import TargetHistory, plan_migrations
from tasks.operations.migrations import migrations_pending
from tasks.operations.common import client_too_old, converged, planning, python_step, refuse, show_plan


def _take(service: str, folder: Path, label: str, keep: int, fingerprint: str | None, database: str,
          holds_nothing: bool = False):
    """A verified backup into ``folder``, then pruning. ``holds_nothing``: the plan found nothing a
    backup would keep, so the backup is a manifest that says so (re-proved when it is written; if the
    database is no longer empty then, a real pg_dump)."""
    ident = backups.identity(label, database)
    if planning():
        found = backups.scan(folder, database, ident)
        show_plan([f"the target holds nothing yet: record that in {folder}/ (no pg_dump needed)" if holds_nothing
                   else f"take a verified backup of {label} into {folder}/"]
                  + [f"prune {path.name} (keeping {keep})" for path in backups.to_prune(found, keep - 1)]
                  + [f"set aside {path.name} ({why})" for path, why in found.damaged])
    from tasks.backups import dump, empty  # psycopg: imported only when there is work

    def take(log) -> None:
        backup = (holds_nothing and empty.record(service, folder, label, fingerprint, log)) \
            or dump.take_backup(service, folder, label, fingerprint, log)
        tidied = pruning.tidy(folder, database, keep, protect=backup.path, ident=ident)
        m = backup.manifest
        if backups.is_empty_backup(m):
            log(f"backup {backup.path} records that {label} holds nothing (no table, no object): no pg_dump needed")
        else:
            log(f"backup {backup.path} verified: {m['tables']} tables, {sum(m['rows'].values()):,} rows, "
                f"{m['size_bytes'] / 1e6:,.1f} MB, sha256 {m['sha256'][:12]}…")
        if tidied.describe(keep):
            log(f"{folder}: {tidied.describe(keep)}")
        done = (f"recorded the empty target as {backup.path.name} (no pg_dump)" if backups.is_empty_backup(m)
                else f"backup {backup.path.name}")
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
def source_captured(service: str, label: str, backup_dir: str, keep: int = 10, after_proof: bool = False):
    """
    Ensure a verified ``pg_dump -Fc`` backup of the source's current state exists.

    + service: the service name of the source database
    + label: what to call the source in messages (a redacted URL)
    + backup_dir: backups go to ``<backup_dir>/source/``
    + keep: verified backups kept per database; older ones are pruned (by name, in the output), never
      the newest; lowering it prunes on the next run even when no new backup is needed

    A new backup is taken when the source changed since the last verified one (its fingerprint:
    the cluster's next transaction id, the tables' files, the sequences), or when that backup is
    missing, truncated or unverified.

    + after_proof: the proof runs first in this run; its shadow database on the same server moves
      the cluster's transaction id, so the plan says a backup will be taken

    **Example:**

    .. code:: python

        backups.source_captured(
            name="Source backup captured",
            service="source",
            label="postgres://postgres:***@localhost:5432/whynot",
            backup_dir="backups",
        )
    """
    info = read(Fingerprint, service)
    if isinstance(info, FactError):
        yield from refuse(f"source {label} is not reachable: {info['error']}: is the local database running?")
        return
    problem = client_too_old(label, info["version_num"])
    if problem:
        yield from refuse(problem)
        return
    folder = Path(backup_dir) / "source"
    ident = backups.identity(label, info["database"])
    found = backups.scan(folder, info["database"], ident)
    latest = found.verified
    if planning() and after_proof:
        show_plan(["the proof's shadow database, made on the source's server first, moves its transaction id: "
                   "the source backup is taken again after it"])
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
        yield from refuse(f"Heroku app {app}'s database is {plan.status}, not Available: wait (heroku pg:wait -a {app}) and re-run")
        return
    show_plan([f"the target will change ({', '.join(reasons)}): capture a Heroku backup first "
               f"(heroku pg:backups:capture -a {app})", f"Heroku database: {plan.summary()}"])

    def capture(log) -> str:
        return f"Heroku backup {heroku_capture_recorded(app, service, folder, log)[0]}"

    yield python_step(capture)


def heroku_capture_recorded(app: str, service: str, folder: Path, log) -> tuple[str, Path]:
    """``heroku pg:backups:capture``, and what the database held recorded beside (for restore.py):
    (what the CLI said of the backup, e.g. ``b005 …``; the record's path)."""
    from tasks.backups import dump
    from tasks.heroku import app as heroku_app

    state = dump.database_state(service)  # what restore.py checks a restore of this backup against
    captured = heroku_app.capture_backup(app, log)
    backup_id = captured.split()[0]
    path = backups.heroku_manifest_path(folder, app, backup_id)
    backups.write_json(path, {"tool": backups.TOOL, "verified": True, "heroku_app": app, "backup_id": backup_id,
                              "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                              "counted": "just before pg:backups:capture", **state})
    log(f"Heroku backup {captured}: what it holds is recorded in {path}")
    return captured, path


def _changes_ahead(service: str, migrations: list[Migration], baseline_version: int | None,
                   seed_files: list[seed.SeedFile], seed_upsert: bool, copy_from: str | None,
                   history: TargetHistory | FactError) -> list[str]:
    reasons = []
    if copy_from:
        from tasks.operations.data import data_to_copy

        if data_to_copy(copy_from, service):
            reasons.append("data to copy")
        source = read(RowCounts, copy_from)
        if not isinstance(source, FactError):
            seed_files = seed.owned_by_copy(seed_files, source)[0]
    if not isinstance(history, FactError):
        plan = plan_migrations(migrations, history, baseline_version)
        if plan.problems:
            return []  # the migrations step refuses before anything changes
        if plan.pending or plan.baseline:
            reasons.append(f"{len(plan.pending)} pending migration(s)")
    if seed_files:
        from tasks.data import seed_load  # the rows travel as COPY data, never in a script

        try:
            found = seed_load.missing(service, seed_files, seed_upsert)
        except seed_load.SeedError:
            found = None  # the seed step refuses before anything changes
        if found is not None:
            missing = sum(count.missing + count.updates for count in found["tables"].values())
            if found["absent"] or missing:
                reasons.append("seed rows to insert")
    return reasons


@operation()
def target_captured_before_change(
    service: str,
    label: str,
    backup_dir: str,
    migrations: list[Migration],
    seed_files: list[seed.SeedFile],
    baseline_version: int | None = None,
    keep: int = 10,
    seed_upsert: bool = False,
    copy_from: str | None = None,
    heroku_app: str | None = None,
    copy_replace: bool = False,
):
    """
    Ensure a verified backup of the target exists before this run changes it.

    + service: the service name of the target database
    + label: what to call the target in messages
    + backup_dir: backups go to ``<backup_dir>/target/`` (on Heroku: the manifest of each captured
      backup, ``heroku-APP-b005.json``: its catalog and row counts, for ``restore.py``)
    + migrations: the migration files (pending ones mean a change)
    + seed_files: the seed files (missing rows mean a change)
    + baseline_version: as for ``migrations.applied``
    + keep: verified backups kept per database (lowering it prunes on the next run, named in the output)
    + seed_upsert: seed rows that differ will be updated (``SEED_MODE=upsert``)
    + copy_from: with ``DATA_MIGRATION=copy``, the source's service: rows still to copy mean a change
    + heroku_app: the target is this Heroku app: ``heroku pg:backups:capture`` (confirmed with
      ``pg:backups:info``) instead of a local ``pg_dump``, after ``pg:info`` says the database
      is available
    + copy_replace: ``COPY_CONFLICT=replace``: a differing target table is no reason to refuse

    A copy that will refuse (large objects, a column of another name or type, a conflict) stops
    here, before the backup, when no migration is pending (else the copy step refuses after them). Nothing pending → no backup.
    A target that holds nothing (a first deploy): the backup is a manifest that says so, no ``pg_dump``
    (:mod:`tasks.backups.empty`).

    **Example:**

    .. code:: python

        backups.target_captured_before_change(
            name="Target backup captured",
            service="target",
            label="postgres://app:***@db.example.com:5432/app",
            backup_dir="backups",
            migrations=read_migrations(Path("files/migrations")),
            seed_files=read_seed_files(Path("files/seed")),
        )
    """
    if copy_from and not migrations_pending(service, migrations, baseline_version):
        # (with migrations pending, the target's schema is not yet the one the copy meets: the copy
        # step itself refuses, after them)
        from tasks.operations.data import copy_refusal

        problem = copy_refusal(copy_from, service, copy_replace)
        if problem:
            yield from refuse(problem)
            return
    history = read(MigrationHistory, service)  # also says whether the target holds anything to back up
    reasons = _changes_ahead(service, migrations, baseline_version, seed_files, seed_upsert, copy_from, history)
    if not reasons:
        message = "nothing will change in the target: no backup needed"
        info = None if heroku_app else read(Fingerprint, service)
        if info is None or isinstance(info, FactError):
            converged(message)
            return
        ident, folder = backups.identity(label, info["database"]), Path(backup_dir) / "target"
        yield from _converged_or_pruned(message, folder, backups.scan(folder, info["database"], ident),
                                        info["database"], ident, keep)
        return
    if heroku_app:
        yield from _heroku_capture(heroku_app, reasons, service, Path(backup_dir) / "target")
        return
    info = read(Fingerprint, service)
    if isinstance(info, FactError):
        yield from refuse(f"target {label} is not reachable: {info['error']}")
        return
    show_plan([f"the target will change ({', '.join(reasons)}): back it up first"])
    from tasks.backups.empty import holds_nothing

    yield _take(service, Path(backup_dir) / "target", label, keep, info["fingerprint"], info["database"],
                holds_nothing(history))
