"""
One setting's value, read from the merged settings and checked (pure apart from looking at folders):
URLs, folders, choices, booleans, counts, seconds and PostgreSQL durations. Every problem is a
:class:`SettingsError` whose message is one line naming the variable and the fix.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import overload

from tasks.core import reports
from tasks.core.errors import ActionableError
from tasks.core.folders import shared_folder
from tasks.core.urls import DatabaseUrl, UrlError, parse_database_url


class SettingsError(ActionableError, ValueError):
    """A setting is missing or wrong; the message is one line naming it and the fix."""


def url(values: Mapping[str, str], key: str, default: str | None = None) -> DatabaseUrl | None:
    raw = values.get(key, "").strip() or default
    if not raw:
        return None
    try:
        return parse_database_url(raw)
    except UrlError as exc:
        raise SettingsError(f"{key}: {exc}") from None


def directory(
    values: Mapping[str, str],
    key: str,
    default: str,
    cwd: Path,
    must_exist: bool,
    what: str = "migrations",
    unless_default: bool = False,
) -> Path:
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


def state_dir(values: Mapping[str, str], key: str, cwd: Path) -> Path:
    """The tool's own state folder: never a shared one (world-writable or sticky)."""
    path = directory(values, key, ".pgconverge", cwd, must_exist=False)
    if shared_folder(path):
        raise SettingsError(
            f"{key}: {path} is a shared folder (world-writable or sticky): the tool's state (the "
            "proven schema, how each file splits) must be its own: set STATE_DIR to a folder of its "
            f"own, e.g. {key}=.pgconverge"
        )
    return path


def report_dir(values: Mapping[str, str], key: str, cwd: Path) -> Path:
    """The reports' folder, unless :func:`tasks.core.reports.refusal` refuses it."""
    path = directory(values, key, "reports", cwd, must_exist=False)
    why = reports.refusal(path)
    if why:
        raise SettingsError(f"{key}: {why}")
    return path


def choice(values: Mapping[str, str], key: str, choices: tuple[str, ...]) -> str:
    raw = values.get(key, "").strip().lower() or choices[0]
    if raw not in choices:
        raise SettingsError(f"{key}: unknown value {raw!r}: use one of {', '.join(choices)}")
    return raw


def boolean(values: Mapping[str, str], key: str) -> bool:
    raw = values.get(key, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"{key}: {raw!r} is not true or false: set {key}=true or {key}=false")


def keep(values: Mapping[str, str], key: str, default: int, what: str) -> int:
    """How many of ``what`` are kept: 1 to :data:`tasks.core.reports.MAX_KEEP`."""
    raw = values.get(key, str(default))
    if not re.fullmatch(r"[0-9]{1,6}", raw) or not 1 <= int(raw) <= reports.MAX_KEEP:
        raise SettingsError(
            f"{key}: {raw!r} is not a number of {what} from 1 to {reports.MAX_KEEP}: set for example {key}={default}"
        )
    return int(raw)


def version(values: Mapping[str, str], key: str) -> int | None:
    raw = values.get(key, "").strip()
    if not raw:
        return None
    if not re.fullmatch(r"[0-9]+", raw) or int(raw) > BIGINT_MAX:
        raise SettingsError(
            f"{key}: {raw!r} is not a whole number up to {BIGINT_MAX}: set a migration version such as 4"
        )
    return int(raw)


def positive_seconds(values: Mapping[str, str], key: str, default: float) -> float:
    number = seconds(values, key, default)
    if number <= 0:
        raise SettingsError(
            f"{key}: {values.get(key, '').strip()!r} is not a number of seconds above 0: "
            f"set for example {key}={default:g}"
        )
    return number


def seconds(values: Mapping[str, str], key: str, default: float, unit: str = "a number of seconds") -> float:
    raw = values.get(key, "").strip()
    if not raw:
        return default
    try:
        number = float(raw)
    except ValueError:
        number = -1
    if number < 0 or not math.isfinite(number):
        raise SettingsError(f"{key}: {raw!r} is not {unit}: set for example {key}={default:g}")
    return number


def capped(value: float, key: str, most: float) -> float:
    if value > most:
        raise SettingsError(f"{key}: {value:g} is over {most:g}: set at most {key}={most:g}")
    return value


# PostgreSQL's time units for lock_timeout / statement_timeout (a bare number is milliseconds), and
# their limit: an int of milliseconds (guc.c: INT_MAX ms, about 24.8 days).
PG_TIME_UNITS_MS = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000, "": 1}
PG_TIMEOUT_MAX_MS = 2_147_483_647
BIGINT_MAX = 2**63 - 1  # schema_migrations.version


def pg_duration(values: Mapping[str, str], key: str, default: str) -> str:
    """A PostgreSQL duration such as ``5s``, ``500ms``, ``2min`` or ``0`` (no limit), within PostgreSQL's range."""
    raw = values.get(key, "").strip() or default
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)\s*(us|ms|s|min|h|d)?", raw)
    if not match:
        raise SettingsError(
            f"{key}: {raw!r} is not a duration: use PostgreSQL units, e.g. 5s, 500ms, 2min, or 0 for none"
        )
    milliseconds = round(float(match.group(1)) * PG_TIME_UNITS_MS[match.group(2) or ""])  # rounded as guc.c does
    if milliseconds == 0 and float(match.group(1)) != 0:
        raise SettingsError(
            f"{key}: {raw!r} is below PostgreSQL's step of 1 ms and would mean no limit at all: "
            "set at least 1ms, or 0 for none"
        )
    if milliseconds > PG_TIMEOUT_MAX_MS:
        raise SettingsError(
            f"{key}: {raw!r} is beyond PostgreSQL's limit of {PG_TIMEOUT_MAX_MS} ms (about 24 days): "
            "set a shorter duration, or 0 for none"
        )
    return raw


def heroku_app(values: Mapping[str, str], key: str) -> str | None:
    app = values.get(key, "").strip()
    if not app:
        return None
    if not re.fullmatch(r"[a-z][a-z0-9-]{1,29}", app):
        raise SettingsError(f"{key}: {app!r} is not a Heroku app name: use lower-case letters, digits and dashes")
    return app


@overload
def count(values: Mapping[str, str], key: str, default: int, minimum: int) -> int: ...
@overload
def count(values: Mapping[str, str], key: str, default: None, minimum: int) -> int | None: ...
def count(values: Mapping[str, str], key: str, default: int | None, minimum: int) -> int | None:
    raw = values.get(key, "").strip()
    if not raw:
        return default
    if not re.fullmatch(r"[0-9]+", raw) or int(raw) < minimum:
        raise SettingsError(f"{key}: {raw!r} is not a whole number of at least {minimum}: set for example {key}=10")
    return int(raw)


def config_var_name(values: Mapping[str, str], key: str, default: str) -> str:
    raw = values.get(key, "").strip() or default
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", raw):
        raise SettingsError(f"{key}: {raw!r} is not a config var name: use letters, digits and _ (e.g. DB_POOL_MAX)")
    return raw


ENVIRONMENT_NAME = re.compile(r"[a-z][a-z0-9_]{0,40}")


def environment_name(values: Mapping[str, str], key: str) -> str | None:
    raw = values.get(key, "").strip()
    if raw and not ENVIRONMENT_NAME.fullmatch(raw):
        raise SettingsError(
            f"{key}: {raw!r} is not an environment name: use the name of a file in environments/ "
            "(lower-case letters, digits, _), e.g. PROMOTE_FROM=staging"
        )
    return raw or None
