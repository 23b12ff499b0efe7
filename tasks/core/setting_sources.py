"""
Where the settings come from: the real environment over ``.env`` (python-dotenv) or ``ENV_FILE``, and
what in them is no setting: a misspelt name stops the run, other unknown keys and odd lines of
ENV_FILE are noted (shown, not fatal).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values

from tasks.core.env_file import refuse_odd_env_file, refuse_repeated_keys
from tasks.core.setting_values import SettingsError
from tasks.core.spelling import misspelt


def load_environment(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> tuple[dict, Path | None]:
    """Merge ``.env`` (or ``ENV_FILE``) under the real environment; the real environment wins."""
    environ = dict(os.environ if environ is None else environ)
    cwd = cwd or Path.cwd()
    named = environ.get("ENV_FILE")
    env_file = Path(named) if named else cwd / ".env"
    if not env_file.is_absolute():
        env_file = cwd / env_file
    if named and env_file.is_dir():
        raise SettingsError(f"ENV_FILE: {named} is a folder, not a file: point ENV_FILE at a file of settings")
    if named and not env_file.exists():
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


class Reading(dict):
    """The settings' values, remembering which keys were asked for."""

    def __init__(self, values: Mapping[str, str]):
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)


# Names read outside load_settings, or only on some paths (HEROKU_APP set: no TARGET_DATABASE_URL read).
OTHER_NAMES = (
    "ENV_FILE",
    "TARGET_DATABASE_URL",
    "HEROKU_APP",
    "HEROKU_API_KEY",
    "HEROKU_CLI",
    "PYINFRA_YES",
    "PYINFRA_PROGRESS",
    "DATABASE_URL",
    "ENVIRONMENTS_DIR",
)


def file_findings(file_values: Mapping[str, str | None], values: Reading) -> dict:
    """Stop on a misspelt setting name (environment or ENV_FILE); note ENV_FILE's other unknown keys and lines."""
    known = values.read | set(OTHER_NAMES)
    found = misspelt([key for key in values if key not in known], known)
    if found:
        key, name = found
        how = "it differs from {0} only in case" if key.upper() == name else "but one letter off {0}"
        raise SettingsError(
            f"{key}: not a setting, {how.format(name)}: rename it {name} (or remove it); nothing was touched"
        )
    notes = env_file_notes(file_values, known)
    unknown = tuple(key for key, value in file_values.items() if value is not None and key not in known)
    return {"notes": tuple(notes), "unknown_keys": unknown}


def env_file_notes(file_values: Mapping[str, str | None], known: set[str]) -> list[str]:
    """A line of ENV_FILE that is not KEY=value, and the keys that are no setting (ignored)."""
    notes = [
        f"ENV_FILE: the line {key!r} is not KEY=value: it is ignored"
        for key, value in file_values.items()
        if value is None
    ]
    unknown = [key for key, value in file_values.items() if value is not None and key not in known]
    if unknown:
        notes.append(
            f"ENV_FILE: {', '.join(unknown)} {'is not a setting' if len(unknown) == 1 else 'are not settings'}: ignored"
        )
    return notes
