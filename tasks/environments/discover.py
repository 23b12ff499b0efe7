"""
Which environments a run knows: the ``*.env`` files of ``ENVIRONMENTS_DIR`` (default
``environments/``), each one target. Without that folder (or with no file in it) the run has one
target, from ``.env``, as before. Pure: reads file names and values, connects nowhere.

Each file uses the keys of ``.env``. Its values win over the real environment (a ``TARGET_DATABASE_URL``
exported in the shell must not send every environment to one database); what the file leaves out
comes from the environment. The folders that hold what a run keeps (``BACKUP_DIR``, ``STATE_DIR``,
``REPORT_DIR``) default to the usual ones nested by the environment's name, so that each environment
has its own; ``PLANS_DIR`` is shared on purpose: production reads staging's records there.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from dotenv import dotenv_values

from tasks.core.settings import Settings, SettingsError, load_settings

NAME = re.compile(r"[a-z][a-z0-9_]{0,40}")
NESTED = {"BACKUP_DIR": "backups", "STATE_DIR": ".pgconverge", "REPORT_DIR": "reports"}


def environment_files(environ: Mapping[str, str], cwd: Path) -> dict[str, Path]:
    """``{name: file}`` for every ``NAME.env`` in the environments folder, by name; empty without one."""
    named = environ.get("ENVIRONMENTS_DIR", "").strip()
    folder = Path(named or "environments")
    folder = folder if folder.is_absolute() else cwd / folder
    if named and not folder.is_dir():
        raise SettingsError(f"ENVIRONMENTS_DIR: {named} is not a folder: create it or unset ENVIRONMENTS_DIR")
    if not folder.is_dir():
        return {}
    found = {}
    for path in sorted(folder.glob("*.env")):
        if not NAME.fullmatch(path.stem):
            raise SettingsError(
                f"ENVIRONMENTS_DIR: {path.name}: an environment's name is lower-case letters, digits "
                "and _ (it names a pyinfra group and a database service): rename the file"
            )
        found[path.stem] = path
    return found


def environment_values(name: str, path: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The values for environment ``name``: the real environment, then the per-environment folder
    defaults, then the file's own values (which win)."""
    try:
        values = {key: value for key, value in dotenv_values(path).items() if value is not None}
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path.name}: cannot read it: {exc.__class__.__name__}") from None
    merged = dict(environ)
    for key, default in NESTED.items():
        merged[key] = str(Path(environ.get(key, "").strip() or default) / name)
    merged.update(values)
    merged["ENV_FILE"] = str(path)  # the notes on misspelt keys name this file
    return merged


# Names an inventory cannot give a group: pyinfra's own ``all``, and the inventory module's own globals.
RESERVED = frozenset({"all", "os", "sys", "hosts"})


def limits(argv: list[str]) -> list[str] | None:
    """The names given to pyinfra's ``--limit`` (repeated, or comma-separated); None without it."""
    found: list[str] = []
    given = False
    for index, arg in enumerate(argv):
        value = None
        if arg == "--limit" and index + 1 < len(argv):
            value = argv[index + 1]
        elif arg.startswith("--limit="):
            value = arg.partition("=")[2]
        if value is not None:
            given = True
            found += [part.strip() for part in value.split(",") if part.strip()]
    return found if given else None


def _limited(files: dict[str, Path], limit: list[str]) -> set[str]:
    """The environments ``--limit`` names (a group, a host ``@pgenv/NAME`` or a glob); one that names
    none is refused, listing the environments (a typo must not run nothing and exit 0)."""
    chosen: set[str] = set()
    for item in limit:
        pattern = item.removeprefix("@pgenv/")
        matched = {name for name in files if fnmatch.fnmatchcase(name, pattern)}
        if not matched:
            raise SettingsError(
                f"--limit {item}: no environment of that name: use one of {', '.join(files)} "
                f"(the files in {next(iter(files.values())).parent}); nothing was done"
            )
        chosen |= matched
    return chosen


def load_environments(
    environ: Mapping[str, str], cwd: Path, limit: list[str] | None = None
) -> dict[str | None, Settings]:
    """Every environment's settings (``{None: settings}`` from ``.env`` without environments);
    the first problem stops the run, named with its environment. With ``limit`` (``--limit``), only the
    environments it names are loaded and must be valid; another one's problem is a note."""
    files = environment_files(environ, cwd)
    if not files:
        return {None: load_settings(environ, cwd)}
    for name in files:
        if name in RESERVED:
            raise SettingsError(
                f"ENVIRONMENTS_DIR: {name}.env: {name} is a name pyinfra's inventory reserves "
                "(all, os, sys, hosts): rename the file"
            )
    chosen = _limited(files, limit) if limit is not None else set(files)
    loaded: dict[str | None, Settings] = {}
    skipped: list[str] = []
    for name, path in files.items():
        try:
            settings = load_settings(environment_values(name, path, environ), cwd)
        except SettingsError as exc:
            if name not in chosen:
                skipped.append(f"environment {name} ({path.name}) is not valid and was left out (--limit): {exc}")
                continue
            raise SettingsError(f"environment {name} ({path.name}): {exc}") from None
        loaded[name] = replace(settings, environment=name)
    _refuse_cycles(loaded)
    loaded = {name: settings for name, settings in loaded.items() if name in chosen}
    if skipped:
        first = next(iter(loaded))
        loaded[first] = replace(loaded[first], notes=(*loaded[first].notes, *skipped))
    for env_name, settings in loaded.items():
        if settings.promote_from is not None and settings.promote_from not in files:
            raise SettingsError(
                f"environment {env_name}: PROMOTE_FROM={settings.promote_from} names no file in "
                f"{next(iter(files.values())).parent}: add {settings.promote_from}.env or fix the name"
            )
        if settings.promote_from == env_name:
            raise SettingsError(
                f"environment {env_name}: PROMOTE_FROM names the environment itself: name the one before it"
            )
    return loaded


def _refuse_cycles(loaded: Mapping[str | None, Settings]) -> None:
    """PROMOTE_FROM must lead back to an environment that promotes from none (aa←bb, bb←aa never can)."""
    for start in loaded:
        seen = [start]
        here = loaded[start].promote_from
        if here == start:
            continue  # named as such below
        while here is not None and here in loaded:
            if here in seen:
                loop = " ← ".join(str(n) for n in [*seen[seen.index(here) :], here])
                raise SettingsError(
                    f"PROMOTE_FROM makes a cycle ({loop}): no environment of it could ever go first: "
                    "remove PROMOTE_FROM from the first one"
                )
            seen.append(here)
            here = loaded[here].promote_from


def service_names(environment: str | None) -> tuple[str, str]:
    """The private service file's names for the environment's source and target."""
    if environment is None:
        return "source", "target"
    return f"{environment}_source", f"{environment}_target"
