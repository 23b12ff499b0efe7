"""
The one place that decides what a child process's environment holds.

Once the settings are read, the secrets are taken out of this process's environment
(:func:`withdraw_secrets`), because pyinfra's ``@local`` connector runs ``sh -c`` with it and libpq,
in this process, reads ``PGSERVICEFILE`` from it (:func:`use_service_file`). Those two are the only
writes into ``os.environ`` anywhere in the tool.

Every child the tool starts itself (psql, pg_dump, pg_restore, dot, the Heroku CLI) is given
:func:`child_env`: only the variables a child needs to run (:data:`PASSED`: the search path, home,
locale, time zone, temporary folder, the run's own libpq variables, what loads a tool's libraries and
fonts), never the rest of the user's shell (an application's secrets, cloud keys), and never a secret;
plus what that child alone needs (the Heroku CLI: its endpoints, proxies and certificates
(:data:`HEROKU_PASSED`), and ``HEROKU_API_KEY`` back). The databases are reached through the private
service file, never a URL or password in the environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, MutableMapping

from tasks.core.libpq_env import withdraw_libpq_variables

# URLs with passwords, libpq's own secret variables, the Heroku API key; *_DATABASE_URL covers the
# app's other databases (HEROKU_POSTGRESQL_*_URL too).
SECRET_NAMES = (
    "SOURCE_DATABASE_URL",
    "TARGET_DATABASE_URL",
    "DATABASE_URL",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGSERVICE",
    "HEROKU_API_KEY",
)
SECRET_PATTERN = re.compile(r".*(DATABASE_URL|POSTGRES(QL)?_.*URL)$")
# What a caller's environment may hold that would override the run's service file.
SERVICE_OVERRIDES = ("PGPASSWORD", "PGSERVICE", "DATABASE_URL")
# What the Heroku CLI is told in every call: no telemetry, no colours in what is parsed.
HEROKU_FIXED = {"DISABLE_TELEMETRY": "true"}
HEROKU_DEFAULTS = {"HEROKU_LOGS_COLOR": "0", "NO_COLOR": "1"}

# What every child gets of this process's environment (names, and prefixes ending in "_"); of libpq's,
# only the run's service file (the caller's were withdrawn: :func:`use_service_file`).
PASSED = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "LC_",
    "TZ",
    "TMPDIR",
    "PGSERVICEFILE",
    "LD_LIBRARY_PATH",
    "DYLD_LIBRARY_PATH",
    "FONTCONFIG_",
    "GVBINDIR",
)
# And the Heroku CLI (Node): its API endpoints and settings, proxies, certificates, config folders.
HEROKU_PASSED = (
    "HEROKU_",
    "NODE_EXTRA_CA_CERTS",
    "NODE_OPTIONS",
    "NO_COLOR",
    "DISABLE_TELEMETRY",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "XDG_",
)

_withdrawn: dict[str, str] = {}


def passed(name: str, allowed: Iterable[str] = PASSED) -> bool:
    """Whether a child is given the variable ``name``: one of ``allowed``, or under a prefix of it."""
    return any(name == entry or (entry.endswith("_") and name.startswith(entry)) for entry in allowed)


def is_secret(name: str) -> bool:
    """Whether a variable of this name holds a URL with a password, a password or an API key."""
    return name in SECRET_NAMES or SECRET_PATTERN.fullmatch(name) is not None


def withdraw_secrets(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Remove the secrets from ``environ`` (this process's by default); the names removed."""
    environ = os.environ if environ is None else environ
    names = [name for name in list(environ) if is_secret(name)]
    for name in names:
        _withdrawn[name] = environ.pop(name)
    return names


def use_service_file(path: str, environ: MutableMapping[str, str] | None = None) -> None:
    """Point libpq (here and in every child) at the run's private service file, and drop what would
    override it: every libpq variable of the caller's (PGHOSTADDR, PGCLIENTENCODING, PGPASSWORD,
    PGSERVICE, ...; :mod:`tasks.core.libpq_env`) and a URL."""
    environ = os.environ if environ is None else environ
    withdraw_libpq_variables(environ)
    environ["PGSERVICEFILE"] = path
    for key in SERVICE_OVERRIDES:
        environ.pop(key, None)


def heroku_credentials() -> dict[str, str]:
    """What the Heroku CLI needs back from the withdrawn secrets: ``HEROKU_API_KEY`` when it was set."""
    return {name: _withdrawn[name] for name in ("HEROKU_API_KEY",) if name in _withdrawn}


def child_env(
    environ: Mapping[str, str] | None = None,
    *,
    credentials: Iterable[str] = (),
    extra: Mapping[str, str] | None = None,
    defaults: Mapping[str, str] | None = None,
    allowed: Iterable[str] = PASSED,
) -> dict[str, str]:
    """
    The environment of a child process: the ``allowed`` variables of ``environ`` (this process's by
    default), never a secret; then ``defaults`` where not set, the named withdrawn ``credentials`` and
    ``extra``.
    """
    source = os.environ if environ is None else environ
    allowed = tuple(allowed)
    env = {name: value for name, value in source.items() if passed(name, allowed) and not is_secret(name)}
    for name, value in (defaults or {}).items():
        env.setdefault(name, value)
    wanted = set(credentials)
    env.update({name: value for name, value in _withdrawn.items() if name in wanted})
    env.update({name: source[name] for name in wanted if name in source})  # not withdrawn (tests, tools)
    env.update(extra or {})
    return env


def heroku_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The Heroku CLI's environment: no secret but ``HEROKU_API_KEY``, telemetry off, no colours."""
    return child_env(
        environ,
        credentials=("HEROKU_API_KEY",),
        extra=HEROKU_FIXED,
        defaults=HEROKU_DEFAULTS,
        allowed=PASSED + HEROKU_PASSED,
    )
