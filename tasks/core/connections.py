"""
Connections without secrets on any command line.

One private ``pg_service.conf`` (mode 0600, in a 0700 temporary folder) holds the source and
target connection parameters for the run; each password is in a password file of its own beside
it (``passfile=``), because the service file trims trailing spaces and cannot quote, while a
password file keeps every character but a line break (``\\`` and ``:`` escaped). The service
file's path is put in this process's ``PGSERVICEFILE``, which every child (psql, pg_dump,
pg_restore) and psycopg inherit, so commands only ever say ``service=target``. The folder is
removed at exit; folders left by a killed run are removed at the start of the next one.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, MutableMapping
from pathlib import Path

from tasks.core.environment import use_service_file
from tasks.core.pinned import with_pinned
from tasks.core.processes import pid_alive

PREFIX = "pgconverge-"
SERVICE_NAME = re.compile(r"[a-z][a-z0-9_]*")
# Parameters every service names, so that no PG* variable can fill them in (libpq takes a variable only
# for a parameter left unset): no host address but the host's, the encoding the tool reads and writes in,
# any server (not "standby"/"read-only"). Keywords every supported libpq (12 and later) knows.
PINNED_PARAMS = {"hostaddr": "", "client_encoding": "UTF8", "target_session_attrs": "any"}


def _escape(value: str) -> str:
    """pg_service.conf values run to the end of the line; a newline would start a new key."""
    if "\n" in value or "\r" in value:
        raise ValueError("a connection parameter contains a line break")
    return value


def render_passfile(password: str) -> str:
    """A libpq password file matching any host, port, database and user (one per service)."""
    if "\n" in password or "\r" in password:
        raise ValueError("a password contains a line break")
    return "*:*:*:*:" + password.replace("\\", "\\\\").replace(":", "\\:") + "\n"


def _write_private(path: Path, text: str) -> None:
    """Written whole, then renamed into place: a psql started meanwhile (another environment's, in
    a parallel run) reads the old file or the new one, never a half-written one."""
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(partial, path)


def render_service_file(services: Mapping[str, Mapping[str, str]]) -> str:
    """The text of a pg_service.conf with one ``[name]`` section per service."""
    lines = []
    for name, params in services.items():
        if not SERVICE_NAME.fullmatch(name):
            raise ValueError(f"bad service name {name!r}")
        lines.append(f"[{name}]")
        params = {**PINNED_PARAMS, **params, "options": with_pinned(params.get("options"))}  # parsing/names pinned
        lines.extend(f"{key}={_escape(value)}" for key, value in params.items())
        lines.append("")
    return "\n".join(lines)


def remove_stale_folders(tmp: Path | None = None) -> list[Path]:
    """Remove service-file folders whose creating process is gone (a killed earlier run)."""
    tmp = Path(tmp or tempfile.gettempdir())
    removed = []
    for folder in tmp.glob(f"{PREFIX}*"):
        match = re.fullmatch(rf"{PREFIX}(\d+)-.*", folder.name)
        if match and folder.is_dir() and not pid_alive(int(match.group(1))):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


class ServiceFile:
    """The run's private pg_service.conf; ``install()`` points ``PGSERVICEFILE`` at it."""

    def __init__(self, services: Mapping[str, Mapping[str, str]]):
        remove_stale_folders()
        self.folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
        self.path = self.folder / "pg_service.conf"
        self.services = {name: dict(params) for name, params in services.items()}
        self._write()
        atexit.register(self.remove)

    def _write(self) -> None:
        sections = {}
        for name, params in self.services.items():
            params = dict(params)
            password = params.pop("password", None)
            if password is not None:
                passfile = self.folder / f"{name}.pgpass"
                _write_private(passfile, render_passfile(password))
                params["passfile"] = str(passfile)
            sections[name] = params
        _write_private(self.path, render_service_file(sections))

    def add(self, name: str, params: Mapping[str, str]) -> None:
        self.services[name] = dict(params)
        self._write()

    def discard(self, name: str) -> None:
        if self.services.pop(name, None) is not None:
            self._write()

    def install(self, environ: MutableMapping[str, str] | None = None) -> None:
        """The run's service file for libpq here and in every child (a caller's password, service, URL
        or any other libpq variable cannot override it)."""
        global _installed
        use_service_file(str(self.path), environ)
        _installed = self

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


_installed: ServiceFile | None = None


def installed() -> ServiceFile | None:
    """The run's service file (``PGSERVICEFILE``), to add a short-lived service such as the proof's role."""
    return _installed


def conninfo(service: str, **overrides: str) -> str:
    """A libpq conninfo string naming a service, e.g. ``service=target``; never holds a secret."""
    parts = [f"service={service}"]
    for key, value in overrides.items():
        quoted = value.replace("\\", "\\\\").replace("'", "\\'")
        parts.append(f"{key}='{quoted}'")
    return " ".join(parts)
