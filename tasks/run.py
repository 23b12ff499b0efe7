"""
The run: settings, migration files, seed files and the private service file, set up once per
pyinfra process, before any host connects. A problem stops the run with one line and exit 2.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from tasks.connections import ServiceFile
from tasks.migration_files import Migration, MigrationFileError, read_migrations
from tasks.seed import SeedFile, SeedFileError, read_seed_files
from tasks.settings import Settings, SettingsError, load_settings

EXIT_BAD_INPUT = 2


@dataclass
class Run:
    settings: Settings
    migrations: list[Migration]
    seeds: list[SeedFile]
    service_file: ServiceFile

    @property
    def require_target_ssl(self) -> bool:
        target = self.settings.target
        return target is None or target.sslmode in ("require", "verify-ca", "verify-full")


_run: Run | None = None


def get_run() -> Run:
    """The run of this process (created on first use)."""
    global _run
    if _run is None:
        settings = load_settings()
        if settings.heroku_app:
            raise SettingsError(
                "HEROKU_APP: the Heroku CLI adapter is not built yet: set TARGET_DATABASE_URL to the app's "
                "DATABASE_URL (with sslmode=require) and unset HEROKU_APP"
            )
        migrations = read_migrations(settings.migrations_dir)
        seeds = read_seed_files(settings.seed_dir)
        services = {"source": settings.source.service_params()}
        if settings.target is not None:
            services["target"] = settings.target.service_params()
        service_file = ServiceFile(services)
        service_file.install()
        _run = Run(settings, migrations, seeds, service_file)
    return _run


def get_run_or_exit() -> Run:
    """:func:`get_run`, turning bad input into one line on stderr and exit status 2 (nothing touched)."""
    try:
        return get_run()
    except (SettingsError, MigrationFileError, SeedFileError) as exc:
        print(f"pgconverge: {exc}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
