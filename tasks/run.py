"""
The run: settings, migration files, seed files and the private service file, set up once per
pyinfra process, before any host connects. A problem stops the run with one line and exit 2.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from tasks.backups import store
from tasks.core import interrupt, own_files, pgtools, private
from tasks.core.clock import run_started
from tasks.core.connections import ServiceFile
from tasks.core.environment import withdraw_secrets
from tasks.core.errors import ActionableError, describe
from tasks.core.folders import check_writable
from tasks.core.identity import read_identity, same_database
from tasks.core.settings import Settings, SettingsError
from tasks.core.shown import escape_controls
from tasks.core.urls import DatabaseUrl
from tasks.data.seed import SeedFile, SeedFileError, read_seed_files
from tasks.migrations import example, expected, parsed
from tasks.migrations.files import Migration, check_migrations, read_migrations, set_checksum
from tasks.schema import versions

if TYPE_CHECKING:
    from tasks.heroku.app import HerokuApp

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
T = TypeVar("T")


@dataclass
class Run:
    settings: Settings
    migrations: list[Migration]
    seeds: list[SeedFile]
    service_file: ServiceFile
    target: DatabaseUrl  # TARGET_DATABASE_URL, or the Heroku app's DATABASE_URL (read this run)
    heroku: HerokuApp | None = None
    dry: bool = False  # ``--dry``: decided once, from pyinfra's command line, when the run is made
    started_at: datetime = field(default_factory=run_started)  # the run's one clock
    source_service: str = "source"  # the private service file's names for this environment's databases
    target_service: str = "target"

    @property
    def environment(self) -> str | None:
        return self.settings.environment

    @property
    def require_target_ssl(self) -> bool:
        return self.target.sslmode in ("require", "verify-ca", "verify-full")

    @property
    def schema_checksum(self) -> str:
        """One checksum over every migration file: which schema the files describe."""
        return set_checksum(self.migrations)

    @staticmethod
    def heroku_calls_note() -> dict:
        """The summary's note of the Heroku CLI calls this run made."""
        from tasks.heroku import cli as heroku_cli

        return {"heroku CLI calls": f"{len(heroku_cli.calls)} ({', '.join(heroku_cli.calls)})"}


_runs: dict[str | None, Run] | None = None


def refuse_same_database(target_label: str, source_service: str = "source", target_service: str = "target") -> None:
    """Stop when the target is the source's database under another spelling (an alias, another host name)."""
    source, target = read_identity(source_service), read_identity(target_service)
    if source and target and same_database(source, target):
        raise SettingsError(
            f"{target_label}: reaches the same database as SOURCE_DATABASE_URL ({source.describe()}): "
            "point the target at another database; nothing was touched"
        )


def make_private(settings: Settings, dry: bool) -> None:
    """Whatever this run writes is 0600/0700 (umask 077, for pg_dump too); the tool's own files
    and folders under BACKUP_DIR and STATE_DIR (never anything else there) made so when an older
    run left them readable, said once. Under ``--dry`` nothing changes: it says what would."""
    os.umask(0o077)
    entries = own_files.loose(settings.backup_dir, settings.state_dir, store.own_entries)
    if not entries:
        return
    if not dry:
        for path, mode in entries:
            private.chmod_own(path, mode)  # a file with other hard links is refused, never chmod-ed
    more = f" and {len(entries) - 5} more" if len(entries) > 5 else ""
    names = ", ".join(str(path) for path, _ in entries[:5]) + more
    verb = "would make" if dry else "made"
    print(
        f"note: {verb} {len(entries)} of pgconverge's own file(s) and folder(s) readable by their owner only "
        f"(files 0600, folders 0700): {names}",
        file=sys.stderr,
    )


def refuse_dry_with_yes(argv: list[str], environ: Mapping[str, str] = os.environ) -> None:
    """``--dry`` with ``-y``: pyinfra then skips change detection, so nothing would be planned or
    checked and the run would look clean (exit 0). Refused before anything connects."""
    yes_env = environ.get("PYINFRA_YES", "").strip().lower() in ("1", "true", "yes", "on")
    yes = "-y" in argv or "--yes" in argv or yes_env
    if "--dry" in argv and yes:
        script = next((a for a in argv if a.endswith(".py") and os.path.basename(a) != "inventory.py"), "deploy.py")
        raise SettingsError(
            "--dry with -y (or PYINFRA_YES): pyinfra then skips change detection, so the dry run "
            f"would plan and check nothing; run pyinfra inventory.py {script} --dry without -y"
        )


def _caches(settings: Settings, dry: bool) -> None:
    """What a run learns for the next, kept once per process (keyed by content: shared by environments)."""
    cache = settings.state_dir / "cache"  # a dry run writes none of it
    pgtools.keep_versions_in(cache / "pg_dump-versions.json", save=not dry)
    pgtools.use_bindirs(settings.pg_bindirs)  # PG_BINDIRS from the environment or ENV_FILE
    versions.keep_views_in(cache / "view-texts.json", save=not dry)
    parsed.keep_in(settings.state_dir)  # a file split (and checked) after a proof is not split again


def _read_files(settings: Settings) -> tuple[list[Migration], list[SeedFile]]:
    migrations = read_migrations(settings.migrations_dir, check=False)
    if not expected.is_proven(settings.state_dir, migrations):
        check_migrations(migrations)  # a set already proven was checked when it was: its files split when used
    seeds = read_seed_files(settings.seed_dir)
    example_seeds = example.example_seeds_alone(migrations, {s.filename: s.text for s in seeds}, str(settings.seed_dir))
    if example_seeds:
        raise SeedFileError(example_seeds)
    return migrations, seeds


def _labelled(environment: str | None, exc: ActionableError) -> ActionableError:
    """The error, its line prefixed with the environment it is about (when there are several)."""
    if environment is None or str(exc).startswith("environment "):
        return exc
    return SettingsError(f"environment {environment}: {describe(exc)}")


def get_runs() -> dict[str | None, Run]:
    """Every environment's run (``{None: run}`` from ``.env`` alone), set up once per process:
    every environment's settings are read before the secrets leave this process's environment."""
    global _runs
    if _runs is None:
        from tasks.environments.discover import limits, load_environments, service_names

        argv = sys.argv[1:]  # the one read of the command line
        refuse_dry_with_yes(argv)
        every = load_environments(os.environ, Path.cwd(), limits(argv))
        first = next(iter(every.values()))
        for name, settings in every.items():
            for note in settings.notes:
                print(f"note: {'' if name is None else f'environment {name}: '}{note}", file=sys.stderr)
        withdraw_secrets()  # no child (sh, psql, pg_dump, dot, ...) inherits a URL, password or API key
        dry = "--dry" in argv  # the one place that decides it: handed down from here
        _caches(first, dry)
        services: dict[str, dict] = {}
        runs: dict[str | None, Run] = {}
        for name, settings in every.items():
            try:
                runs[name] = _prepare(settings, dry, services, service_names(name))
            except ActionableError as exc:
                raise _labelled(name, exc) from None
        refuse_shared_targets(runs)
        service_file = ServiceFile(services)
        service_file.install()
        for name, run in runs.items():
            run.service_file = service_file
            try:
                refuse_same_database(run.settings.target_label, run.source_service, run.target_service)
            except ActionableError as exc:
                raise _labelled(name, exc) from None
        _runs = runs
    return _runs


def refuse_shared_targets(runs: dict[str | None, Run]) -> None:
    """Two environments on one database would each claim the other's changes (and its plan records):
    refused, naming both (host, port and database name equal)."""
    names = [name for name in runs if name is not None]
    for index, first in enumerate(names):
        for second in names[index + 1 :]:
            if runs[first].target.same_database(runs[second].target):
                raise SettingsError(
                    f"environments {first} and {second} point at the same database "
                    f"({runs[first].settings.target_label}): give each environment its own target"
                )


def _prepare(settings: Settings, dry: bool, services: dict[str, dict], names: tuple[str, str]) -> Run:
    private.trust_links_at(settings.report_dir, settings.state_dir, settings.backup_dir)  # the user's links
    check_writable(
        {"REPORT_DIR": settings.report_dir, "STATE_DIR": settings.state_dir, "BACKUP_DIR": settings.backup_dir}
    )
    make_private(settings, dry)
    if settings.data_migration == "copy" and shutil.which("psql") is None:
        raise SettingsError(
            "DATA_MIGRATION=copy streams the source's rows through psql, which is not installed: "
            "install the PostgreSQL client (apt-get install postgresql-client); nothing was touched"
        )
    migrations, seeds = _read_files(settings)
    heroku = None
    if settings.heroku_app:
        from tasks.heroku.app import read_app  # the Heroku modules load for a Heroku target only
        from tasks.heroku.cli import CliSettings

        limits = CliSettings(settings.heroku_cli_timeout_s, settings.heroku_log_window_s, settings.heroku_cli)
        heroku = read_app(settings.heroku_app, settings.pool_var, limits)
    target = heroku.database_url if heroku else settings.target
    assert target is not None
    if target.same_database(settings.source):
        raise SettingsError(f"{settings.target_label}: the target is the same database as SOURCE_DATABASE_URL")
    source_service, target_service = names
    services[source_service] = settings.source.service_params()
    services[target_service] = target.service_params()
    return Run(
        settings,
        migrations,
        seeds,
        None,  # type: ignore[arg-type]  # the service file is set once every environment is prepared
        target,
        heroku,
        dry=dry,
        source_service=source_service,
        target_service=target_service,
    )


def get_run() -> Run:
    """The run of the host being deployed (the only one without environments)."""
    runs = get_runs()
    if len(runs) == 1:
        return next(iter(runs.values()))
    from pyinfra.context import ctx_host

    if ctx_host.isset():
        return runs[ctx_host.get().data.get("environment")]
    names = ", ".join(map(str, runs))
    raise SettingsError(f"this file acts on one environment: run it with --limit NAME (one of {names})")


def get_run_or_exit() -> Run:
    """:func:`get_run`, turning bad input into one line on stderr and exit status 2 (nothing touched)."""
    return _or_exit(get_run)


def get_runs_or_exit() -> dict[str | None, Run]:
    """:func:`get_runs`, turning bad input into one line on stderr and exit status 2 (nothing touched).
    From here until the deploy file installs its own, an interrupt is one line and exit 130 / 143."""
    interrupt.install_early()
    return _or_exit(get_runs)


def _or_exit(read: Callable[[], T]) -> T:
    try:
        return read()
    except ActionableError as exc:  # settings, folders, migration and seed files, the Heroku app
        print(f"pgconverge: {escape_controls(describe(exc))}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback, before anything connects
        print(f"pgconverge: {escape_controls(describe(exc))}", file=sys.stderr)
        sys.exit(EXIT_FAILED)
