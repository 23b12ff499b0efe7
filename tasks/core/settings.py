"""
Settings: read from the environment and ``.env`` (python-dotenv), validated before anything runs.

The real environment wins over the file; ``ENV_FILE`` names another file. Every problem is a :class:`SettingsError`
whose message is one line naming the variable and the fix. Nothing here connects anywhere or writes anything.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from tasks.core import setting_values as value
from tasks.core.setting_sources import Reading, file_findings, load_environment
from tasks.core.setting_values import SettingsError
from tasks.core.urls import DatabaseUrl

DEFAULT_SOURCE_URL = "postgresql://postgres:postgres@localhost:5432/whynot"
DATA_MIGRATION_MODES = ("fresh", "copy")
FAIL_ON = ("red", "never")  # HEALTH_FAIL_ON: a red health check fails the run, or never
# The runbook's check, run in a one-off dyno: the app's own pool answers SELECT NOW().
DEFAULT_APP_CHECK = (
    "node -e \"require('./dist/db').pool.query('SELECT NOW()')"
    '.then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1) })"'
)


@dataclass(frozen=True)
class Settings:
    source: DatabaseUrl
    target: DatabaseUrl | None
    heroku_app: str | None
    migrations_dir: Path
    seed_dir: Path
    backup_dir: Path
    state_dir: Path
    data_migration: str
    baseline_version: int | None
    lock_wait_s: float
    lock_timeout: str
    statement_timeout: str
    allow_extra_objects: bool = False
    backup_keep: int = 10
    report_keep: int = 20
    seed_upsert: bool = False
    copy_replace: bool = False
    copy_jobs: int = 1
    copy_split_mb: int = 64
    health_long_query_s: float = 60.0
    health_idle_s: float = 60.0
    health_fail_on: str = "red"
    risk_table_mb: float = 100.0
    risk_fail_on: str = "high"
    lock_retry_s: float = 60.0
    verify_against_source: bool = False
    report_dir: Path = Path("reports")
    pool_var: str = "DB_POOL_MAX"
    pool_value: int | None = None
    pool_reserve: int = 10
    app_check_command: str = DEFAULT_APP_CHECK
    ignore_log_errors: bool = False
    heroku_cli_timeout_s: float = 120.0
    heroku_log_window_s: float = 20.0
    heroku_cli: str = ""  # HEROKU_CLI: the heroku binary to run ('' : found on PATH or in .tools)
    pg_bindirs: str = ""  # PG_BINDIRS: the folders of pg_dump/pg_restore, dir1:dir2 ('' : the installed ones)
    env_file: Path | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # ENV_FILE lines that look wrong (shown, not fatal)
    unknown_keys: tuple[str, ...] = ()  # ENV_FILE keys that are no setting (and not one edit off one): ignored
    environment: str | None = None  # the environments/NAME.env this target comes from (None: .env alone)
    plans_dir: Path = Path("plans")  # PLANS_DIR: the plan records (committed; no secrets)
    promote_from: str | None = None  # PROMOTE_FROM: the environment whose verified plan record gates this one

    @property
    def target_label(self) -> str:
        """What the target is, for messages (never a secret)."""
        if self.heroku_app:
            return f"Heroku app {self.heroku_app}"
        assert self.target is not None
        return self.target.redacted


LOCK_RETRY_MAX_S = 3600.0  # an hour of retries: beyond, the app's lock is not a wait but an outage


def load_settings(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
    """Read and validate every setting; raise :class:`SettingsError` on the first problem."""
    cwd = cwd or Path.cwd()
    values, env_file = load_environment(environ, cwd)
    values = Reading(values)  # records the keys the settings read, for file_findings

    source = value.url(values, "SOURCE_DATABASE_URL", DEFAULT_SOURCE_URL)
    assert source is not None  # it has a default
    heroku_app = value.heroku_app(values, "HEROKU_APP")
    target = None if heroku_app else value.url(values, "TARGET_DATABASE_URL")
    if heroku_app is None and target is None:
        raise SettingsError(
            "TARGET_DATABASE_URL: no target set: set HEROKU_APP=<app> for Heroku or TARGET_DATABASE_URL=postgres://..."
        )
    if target is not None and source is not None and target.same_database(source):
        raise SettingsError(
            "TARGET_DATABASE_URL: points at the same database as SOURCE_DATABASE_URL: point it at the target"
        )

    return Settings(
        source=source,
        target=target,
        heroku_app=heroku_app,
        migrations_dir=value.directory(values, "MIGRATIONS_DIR", "files/migrations", cwd, must_exist=True),
        seed_dir=value.directory(
            values, "SEED_DIR", "files/seed", cwd, must_exist=False, what="seed files", unless_default=True
        ),
        backup_dir=value.directory(values, "BACKUP_DIR", "backups", cwd, must_exist=False),
        state_dir=value.state_dir(values, "STATE_DIR", cwd),
        data_migration=value.choice(values, "DATA_MIGRATION", DATA_MIGRATION_MODES),
        baseline_version=value.version(values, "BASELINE_VERSION"),
        lock_wait_s=value.seconds(values, "MIGRATION_LOCK_WAIT", 60.0),
        lock_timeout=value.pg_duration(values, "MIGRATION_LOCK_TIMEOUT", "5s"),
        statement_timeout=value.pg_duration(values, "MIGRATION_STATEMENT_TIMEOUT", "0"),
        allow_extra_objects=value.boolean(values, "ALLOW_EXTRA_OBJECTS"),
        backup_keep=value.keep(values, "BACKUP_KEEP", 10, "backups"),
        report_keep=value.keep(values, "REPORT_KEEP", 20, "reports of each kind"),
        seed_upsert=value.choice(values, "SEED_MODE", ("insert", "upsert")) == "upsert",
        copy_replace=value.choice(values, "COPY_CONFLICT", ("refuse", "replace")) == "replace",
        copy_jobs=value.count(values, "COPY_JOBS", os.cpu_count() or 1, 1),
        copy_split_mb=value.count(values, "COPY_SPLIT_MB", 64, 1),
        health_long_query_s=value.seconds(values, "HEALTH_LONG_QUERY_S", 60.0),
        health_idle_s=value.seconds(values, "HEALTH_IDLE_S", 60.0),
        health_fail_on=value.choice(values, "HEALTH_FAIL_ON", FAIL_ON),
        risk_table_mb=value.seconds(values, "RISK_TABLE_MB", 100.0, "a size in megabytes"),
        risk_fail_on=value.choice(values, "RISK_FAIL_ON", ("high", "never")),
        lock_retry_s=value.capped(value.seconds(values, "LOCK_RETRY_S", 60.0), "LOCK_RETRY_S", LOCK_RETRY_MAX_S),
        verify_against_source=value.boolean(values, "VERIFY_AGAINST_SOURCE"),
        report_dir=value.report_dir(values, "REPORT_DIR", cwd),
        pool_var=value.config_var_name(values, "DB_POOL_VAR", "DB_POOL_MAX"),
        pool_value=value.count(values, "DB_POOL_MAX_VALUE", None, 1),
        pool_reserve=value.count(values, "DB_POOL_RESERVE", 10, 0),
        app_check_command=values.get("APP_DB_CHECK_COMMAND", DEFAULT_APP_CHECK).strip(),
        ignore_log_errors=value.boolean(values, "IGNORE_LOG_ERRORS"),
        heroku_cli_timeout_s=value.positive_seconds(values, "HEROKU_CLI_TIMEOUT", 120.0),
        heroku_log_window_s=value.positive_seconds(values, "HEROKU_LOG_WINDOW", 20.0),
        heroku_cli=values.get("HEROKU_CLI", "").strip(),
        pg_bindirs=values.get("PG_BINDIRS", "").strip(),
        env_file=env_file,
        plans_dir=value.directory(values, "PLANS_DIR", "plans", cwd, must_exist=False),
        promote_from=value.environment_name(values, "PROMOTE_FROM"),
        **file_findings(dict(dotenv_values(env_file)) if env_file else {}, values),  # after every key is read
    )
