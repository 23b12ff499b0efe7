"""
Child processes get a minimal environment: once the settings are read, the secrets are taken out
of this process's environment, which pyinfra's ``@local`` connector (``sh -c``), psql, pg_dump,
pg_restore, dot and every other child inherit. The Heroku CLI alone is given ``HEROKU_API_KEY``
back (:func:`heroku_credentials`); the databases are reached through the private service file.
"""

from __future__ import annotations

import os
import re
from typing import MutableMapping

# URLs with passwords, libpq's own secret variables, the Heroku API key; *_DATABASE_URL covers the
# app's other databases (HEROKU_POSTGRESQL_*_URL too).
SECRET_NAMES = ("SOURCE_DATABASE_URL", "TARGET_DATABASE_URL", "DATABASE_URL", "PGPASSWORD", "PGPASSFILE",
                "PGSERVICE", "HEROKU_API_KEY")
SECRET_PATTERN = re.compile(r".*(DATABASE_URL|POSTGRES(QL)?_.*URL)$")

_withdrawn: dict[str, str] = {}


def withdraw_secrets(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Remove the secrets from ``environ`` (this process's by default); the names removed."""
    environ = os.environ if environ is None else environ
    names = [name for name in list(environ) if name in SECRET_NAMES or SECRET_PATTERN.fullmatch(name)]
    for name in names:
        _withdrawn[name] = environ.pop(name)
    return names


def heroku_credentials() -> dict[str, str]:
    """What the Heroku CLI needs back from the withdrawn secrets: ``HEROKU_API_KEY`` when it was set."""
    return {name: _withdrawn[name] for name in ("HEROKU_API_KEY",) if name in _withdrawn}
