"""
Settings: read from the environment and ``.env`` (python-dotenv), validated before anything runs.

The real environment wins over the file; ``ENV_FILE`` names another file. Every problem is a :class:`SettingsError`
whose message is one line naming the variable and the fix. Nothing here connects anywhere or writes anything.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import overload

from dotenv import dotenv_values

from tasks.core import reports
from tasks.core.env_file import refuse_odd_env_file, refuse_repeated_keys
from tasks.core.errors import ActionableError
from tasks.core.folders import shared_folder
from tasks.core.spelling import misspelt
from tasks.core.urls import DatabaseUrl, UrlError, parse_database_url

DEFAULT_SOURCE_URL = "postgresql://postgres:postgres@localhost:5432/whynot"
DATA_MIGRATION_MODES = ("fresh", "copy")
FAIL_ON = ("red", "never")  # HEALTH_FAIL_ON: a red health check fails the run, or never
# The runbook's check, run in a one-off dyno: the app's own pool answers SELECT NOW().
DEFAULT_APP_CHECK = (
    "node -e \"require('./dist/db').pool.query('SELECT NOW()')"
    ".then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1) })\""
)


class SettingsError(ActionableError, ValueError):
    """A setting is missing or wrong; the message is one line naming it and the fix."""


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


def load_environment(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> tuple[dict, Path | None]:
    """Merge ``.env`` (or ``ENV_FILE``) under the real environment; the real environment wins."""
    environ = dict(os.environ if environ is None else environ)
    cwd = cwd or Path.cwd()
    named = environ.get("ENV_FILE")
    env_file = Path(named) if named else cwd / ".env"
    if not env_file.is_absolute():
        env_file = cwd / env_file
    if named and (not env_file.exists() or env_file.is_dir()):
        raise SettingsError(f"ENV_FILE: {named} does not exist: create it or unset ENV_FILE")
    values: dict[str, str] = {}
    found: Path | None = env_file
    refuse_odd_env_file(env_file)
    if env_file.exists() and not env_file.is_dir():
        try:
            refuse_repeated_keys(env_file)
            values = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(f"ENV_FILE: cannot read {env_file}: {exc.__class__.__name__}") from None
    else:
        found = None
    values.update(environ)
    return values, found


def _url(values: Mapping[str, str], key: str, default: str | None = None) -> DatabaseUrl | None:
    raw = values.get(key, "").strip() or default
    if not raw:
        return None
    try:
        return parse_database_url(raw)
    except UrlError as exc:
        raise SettingsError(f"{key}: {exc}") from None


def _directory(values: Mapping[str, str], key: str, default: str, cwd: Path, must_exist: bool,
               what: str = "migrations", unless_default: bool = False) -> Path:
    """The folder ``key`` names; with ``unless_default``, it must exist unless it is the default folder."""
    path = Path(values.get(key, "").strip() or default)
    if not path.is_absolute():
        path = cwd / path
    must_exist = must_exist or (unless_default and path != cwd / default)
    if must_exist and not path.is_dir() and not path.exists():
        raise SettingsError(f"{key}: folder {path} does not exist: create it or point {key} at your {what}")
    if path.exists() and not path.is_dir():
        raise SettingsError(f"{key}: {path} is a file, not a folder: point {key} at a folder")
    return path


def _state_dir(values: Mapping[str, str], cwd: Path) -> Path:
    path = _directory(values, "STATE_DIR", ".pgconverge", cwd, must_exist=False)
    if shared_folder(path):
        raise SettingsError(f"STATE_DIR: {path} is a shared folder (world-writable or sticky): the tool's state (the "
                            "proven schema, how each file splits) must be its own: set STATE_DIR to a folder of its "
                            "own, e.g. STATE_DIR=.pgconverge")
    return path


def _report_dir(values: Mapping[str, str], cwd: Path) -> Path:
    path = _directory(values, "REPORT_DIR", "reports", cwd, must_exist=False)
    why = reports.refusal(path)
    if why:
        raise SettingsError(f"REPORT_DIR: {why}")
    return path


def _choice(values: Mapping[str, str], key: str, choices: tuple[str, ...]) -> str:
    raw = values.get(key, "").strip().lower() or choices[0]
    if raw not in choices:
        raise SettingsError(f"{key}: unknown value {raw!r}: use one of {', '.join(choices)}")
    return raw


def _bool(values: Mapping[str, str], key: str) -> bool:
    raw = values.get(key, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"{key}: {raw!r} is not true or false: set {key}=true or {key}=false")


def _keep(values: Mapping[str, str], key: str = "BACKUP_KEEP", default: int = 10, what: str = "backups") -> int:
    raw = values.get(key, str(default))
    if not re.fullmatch(r"[0-9]{1,6}", raw) or not 1 <= int(raw) <= reports.MAX_KEEP:
        raise SettingsError(f"{key}: {raw!r} is not a number of {what} from 1 to {reports.MAX_KEEP}: "
                            f"set for example {key}={default}")
    return int(raw)


def _int(values: Mapping[str, str], key: str) -> int | None:
    raw = values.get(key, "").strip()
    if not raw:
        return None
    if not re.fullmatch(r"[0-9]+", raw) or int(raw) > BIGINT_MAX:
        raise SettingsError(f"{key}: {raw!r} is not a whole number up to {BIGINT_MAX}: "
                            "set a migration version such as 4")
    return int(raw)


def _positive_seconds(values: Mapping[str, str], key: str, default: float) -> float:
    seconds = _seconds(values, key, default)
    if seconds <= 0:
        raise SettingsError(f"{key}: {values.get(key, '').strip()!r} is not a number of seconds above 0: "
                            f"set for example {key}={default:g}")
    return seconds


def _seconds(values: Mapping[str, str], key: str, default: float, unit: str = "a number of seconds") -> float:
    raw = values.get(key, "").strip()
    if not raw:
        return default
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1
    if seconds < 0 or not math.isfinite(seconds):
        raise SettingsError(f"{key}: {raw!r} is not {unit}: set for example {key}={default:g}")
    return seconds


LOCK_RETRY_MAX_S = 3600.0  # an hour of retries: beyond, the app's lock is not a wait but an outage


def _capped(value: float, key: str, most: float) -> float:
    if value > most:
        raise SettingsError(f"{key}: {value:g} is over {most:g}: set at most {key}={most:g}")
    return value


# PostgreSQL's time units for lock_timeout / statement_timeout (a bare number is milliseconds), and
# their limit: an int of milliseconds (guc.c: INT_MAX ms, about 24.8 days).
PG_TIME_UNITS_MS = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000, "": 1}
PG_TIMEOUT_MAX_MS = 2_147_483_647
BIGINT_MAX = 2**63 - 1  # schema_migrations.version


def _pg_duration(values: Mapping[str, str], key: str, default: str) -> str:
    """A PostgreSQL duration such as ``5s``, ``500ms``, ``2min`` or ``0`` (no limit), within PostgreSQL's range."""
    raw = values.get(key, "").strip() or default
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)\s*(us|ms|s|min|h|d)?", raw)
    if not match:
        raise SettingsError(f"{key}: {raw!r} is not a duration: use PostgreSQL units, e.g. 5s, 500ms, 2min, "
                            "or 0 for none")
    milliseconds = round(float(match.group(1)) * PG_TIME_UNITS_MS[match.group(2) or ""])  # rounded as guc.c does
    if milliseconds == 0 and float(match.group(1)) != 0:
        raise SettingsError(f"{key}: {raw!r} is below PostgreSQL's step of 1 ms and would mean no limit at all: "
                            "set at least 1ms, or 0 for none")
    if milliseconds > PG_TIMEOUT_MAX_MS:
        raise SettingsError(
            f"{key}: {raw!r} is beyond PostgreSQL's limit of {PG_TIMEOUT_MAX_MS} ms (about 24 days): "
            "set a shorter duration, or 0 for none"
        )
    return raw


def _heroku_app(values: Mapping[str, str]) -> str | None:
    app = values.get("HEROKU_APP", "").strip()
    if not app:
        return None
    if not re.fullmatch(r"[a-z][a-z0-9-]{1,29}", app):
        raise SettingsError(
            f"HEROKU_APP: {app!r} is not a Heroku app name: use lower-case letters, digits and dashes"
        )
    return app


@overload
def _count(values: Mapping[str, str], key: str, default: int, minimum: int) -> int: ...
@overload
def _count(values: Mapping[str, str], key: str, default: None, minimum: int) -> int | None: ...
def _count(values: Mapping[str, str], key: str, default: int | None, minimum: int) -> int | None:
    raw = values.get(key, "").strip()
    if not raw:
        return default
    if not re.fullmatch(r"[0-9]+", raw) or int(raw) < minimum:
        raise SettingsError(f"{key}: {raw!r} is not a whole number of at least {minimum}: set for example {key}=10")
    return int(raw)


def _config_var_name(values: Mapping[str, str], key: str, default: str) -> str:
    raw = values.get(key, "").strip() or default
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", raw):
        raise SettingsError(f"{key}: {raw!r} is not a config var name: use letters, digits and _ (e.g. DB_POOL_MAX)")
    return raw


def load_settings(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
    """Read and validate every setting; raise :class:`SettingsError` on the first problem."""
    cwd = cwd or Path.cwd()
    values, env_file = load_environment(environ, cwd)
    values = _Reading(values)  # records the keys the settings read, for env_file_notes

    source = _url(values, "SOURCE_DATABASE_URL", DEFAULT_SOURCE_URL)
    assert source is not None  # it has a default
    heroku_app = _heroku_app(values)
    target = None if heroku_app else _url(values, "TARGET_DATABASE_URL")
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
        migrations_dir=_directory(values, "MIGRATIONS_DIR", "files/migrations", cwd, must_exist=True),
        seed_dir=_directory(values, "SEED_DIR", "files/seed", cwd, must_exist=False, what="seed files",
                            unless_default=True),
        backup_dir=_directory(values, "BACKUP_DIR", "backups", cwd, must_exist=False),
        state_dir=_state_dir(values, cwd),
        data_migration=_choice(values, "DATA_MIGRATION", DATA_MIGRATION_MODES),
        baseline_version=_int(values, "BASELINE_VERSION"),
        lock_wait_s=_seconds(values, "MIGRATION_LOCK_WAIT", 60.0),
        lock_timeout=_pg_duration(values, "MIGRATION_LOCK_TIMEOUT", "5s"),
        statement_timeout=_pg_duration(values, "MIGRATION_STATEMENT_TIMEOUT", "0"),
        allow_extra_objects=_bool(values, "ALLOW_EXTRA_OBJECTS"),
        backup_keep=_keep(values),
        report_keep=_keep(values, "REPORT_KEEP", 20, "reports of each kind"),
        seed_upsert=_choice(values, "SEED_MODE", ("insert", "upsert")) == "upsert",
        copy_replace=_choice(values, "COPY_CONFLICT", ("refuse", "replace")) == "replace",
        copy_jobs=_count(values, "COPY_JOBS", os.cpu_count() or 1, 1),
        copy_split_mb=_count(values, "COPY_SPLIT_MB", 64, 1),
        health_long_query_s=_seconds(values, "HEALTH_LONG_QUERY_S", 60.0),
        health_idle_s=_seconds(values, "HEALTH_IDLE_S", 60.0),
        health_fail_on=_choice(values, "HEALTH_FAIL_ON", FAIL_ON),
        risk_table_mb=_seconds(values, "RISK_TABLE_MB", 100.0, "a size in megabytes"),
        risk_fail_on=_choice(values, "RISK_FAIL_ON", ("high", "never")),
        lock_retry_s=_capped(_seconds(values, "LOCK_RETRY_S", 60.0), "LOCK_RETRY_S", LOCK_RETRY_MAX_S),
        verify_against_source=_bool(values, "VERIFY_AGAINST_SOURCE"),
        report_dir=_report_dir(values, cwd),
        pool_var=_config_var_name(values, "DB_POOL_VAR", "DB_POOL_MAX"),
        pool_value=_count(values, "DB_POOL_MAX_VALUE", None, 1),
        pool_reserve=_count(values, "DB_POOL_RESERVE", 10, 0),
        app_check_command=values.get("APP_DB_CHECK_COMMAND", DEFAULT_APP_CHECK).strip(),
        ignore_log_errors=_bool(values, "IGNORE_LOG_ERRORS"),
        heroku_cli_timeout_s=_positive_seconds(values, "HEROKU_CLI_TIMEOUT", 120.0),
        heroku_log_window_s=_positive_seconds(values, "HEROKU_LOG_WINDOW", 20.0),
        env_file=env_file,
        plans_dir=_directory(values, "PLANS_DIR", "plans", cwd, must_exist=False),
        promote_from=_environment_name(values, "PROMOTE_FROM"),
        **file_findings(dict(dotenv_values(env_file)) if env_file else {}, values),  # after every key is read
    )


ENVIRONMENT_NAME = re.compile(r"[a-z][a-z0-9_]{0,40}")


def _environment_name(values: Mapping[str, str], key: str) -> str | None:
    raw = values.get(key, "").strip()
    if raw and not ENVIRONMENT_NAME.fullmatch(raw):
        raise SettingsError(f"{key}: {raw!r} is not an environment name: use the name of a file in environments/ "
                            "(lower-case letters, digits, _), e.g. PROMOTE_FROM=staging")
    return raw or None


class _Reading(dict):
    """The settings' values, remembering which keys were asked for."""

    def __init__(self, values: Mapping[str, str]):
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)


# Names read outside load_settings, or only on some paths (HEROKU_APP set: no TARGET_DATABASE_URL read).
OTHER_NAMES = ("ENV_FILE", "TARGET_DATABASE_URL", "HEROKU_APP", "HEROKU_API_KEY", "HEROKU_CLI", "PG_BINDIRS",
               "PYINFRA_YES", "PYINFRA_PROGRESS", "DATABASE_URL", "ENVIRONMENTS_DIR")


def file_findings(file_values: Mapping[str, str | None], values: _Reading) -> dict:
    """Stop on a misspelt setting name (environment or ENV_FILE); note ENV_FILE's other unknown keys and lines."""
    known = values.read | set(OTHER_NAMES)
    found = misspelt([key for key in values if key not in known], known)
    if found:
        key, name = found
        how = "it differs from {0} only in case" if key.upper() == name else "but one letter off {0}"
        raise SettingsError(f"{key}: not a setting, {how.format(name)}: rename it {name} (or remove it); "
                            "nothing was touched")
    notes = env_file_notes(file_values, known)
    unknown = tuple(key for key, value in file_values.items() if value is not None and key not in known)
    return {"notes": tuple(notes), "unknown_keys": unknown}


def env_file_notes(file_values: Mapping[str, str | None], known: set[str]) -> list[str]:
    """A line of ENV_FILE that is not KEY=value, and the keys that are no setting (ignored)."""
    notes = [f"ENV_FILE: the line {key!r} is not KEY=value: it is ignored"
             for key, value in file_values.items() if value is None]
    unknown = [key for key, value in file_values.items() if value is not None and key not in known]
    if unknown:
        notes.append(f"ENV_FILE: {', '.join(unknown)} {'is not a setting' if len(unknown) == 1 else 'are not settings'}"
                     ": ignored")
    return notes
