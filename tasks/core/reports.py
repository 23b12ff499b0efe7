"""
The report folder (``REPORT_DIR``): for each kind of report (``run``, ``validation``, ``health``)
``latest-<kind>.json`` plus a bounded history in ``REPORT_DIR/history/``, named
``<kind>-<UTC time to the microsecond>-<pid>-<random>.json`` (unique: concurrent runs never overwrite
each other), the newest ``REPORT_KEEP`` kept. Reports describe the data, so they are private: 0600
files. Folder modes: a folder the tool creates (it leaves a ``.pgconverge-reports`` marker) and the
``history/`` subfolder are 0700; an existing folder of someone else's (it holds other files) keeps
its mode, only the tool's own files in it are made 0600; a shared folder (world-writable or sticky,
like ``/tmp``) is refused (:func:`refusal`). Pruning only ever looks inside ``history/``.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import time
from pathlib import Path

from tasks.core.private import FILE_MODE, chmod_own, private_dir, write_private

KINDS = ("run", "validation", "health")
DEFAULT_KEEP = 20
MAX_KEEP = 10000
MARKER = ".pgconverge-reports"
HISTORY = "history"
# The tool's files at the top of REPORT_DIR (latest.json: the run report's name before
# latest-run.json), the schema picture.
OURS = re.compile(r"latest\.json|latest-(run|validation|health)\.json|\.?schema\.svg(\.sha256)?")
_STAMP = r"\d{8}T\d{6}\.\d{6}Z-\d+-[0-9a-f]{6}"


def history_name(kind: str, when: float | None = None) -> str:
    """``<kind>-<UTC time, microseconds>-<pid>-<random>.json``: unique, and names sort in time order."""
    when = time.time() if when is None else when
    micro = round((when % 1) * 1_000_000) % 1_000_000
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(when))
    return f"{kind}-{stamp}.{micro:06d}Z-{os.getpid()}-{secrets.token_hex(3)}.json"


def history(folder: Path, kind: str) -> list[Path]:
    """This kind's history files in ``folder/history``, oldest first."""
    pattern = re.compile(rf"{re.escape(kind)}-{_STAMP}\.json")
    place = Path(folder) / HISTORY
    if not place.is_dir():
        return []
    return sorted(p for p in place.glob(f"{kind}-*.json") if pattern.fullmatch(p.name) and p.is_file())


def to_prune(folder: Path, kind: str, keep: int) -> list[Path]:
    """The history files beyond the newest ``keep``."""
    files = history(folder, kind)
    return files[:-keep] if keep > 0 else files


def refusal(folder: Path) -> str | None:
    """Why ``folder`` cannot be the report folder (a shared, world-writable or sticky one), or None."""
    try:
        mode = Path(folder).stat().st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISDIR(mode) and mode & (stat.S_IWOTH | stat.S_ISVTX) and not (Path(folder) / MARKER).exists():
        return (
            f"{folder} is a shared folder (world-writable or sticky), reports describe the data: "
            f"set REPORT_DIR to a folder of its own, e.g. REPORT_DIR=reports"
        )
    return None


def is_ours(folder: Path) -> bool:
    """The tool created ``folder`` (marker), or it holds nothing but the tool's files (an older version's)."""
    folder = Path(folder)
    if (folder / MARKER).exists():
        return True
    return all(OURS.fullmatch(p.name) or p.name == HISTORY for p in folder.iterdir())


def write_report(folder: Path, kind: str, text: str, keep: int = DEFAULT_KEEP) -> tuple[Path, int]:
    """
    Write ``text`` as a new ``history/<kind>-<time>-<pid>-<random>.json`` (never over another) and
    as ``latest-<kind>.json`` (each 0600, atomically), prune this kind's history to ``keep`` files,
    and tighten the tool's own files. Returns the history file and how many existing entries were
    tightened (to say so once).
    """
    folder = Path(folder)
    why = refusal(folder)
    if why:
        raise PermissionError(why)
    tightened = tighten(folder)
    own = (folder / MARKER).exists()
    place = folder / HISTORY
    while True:
        path = place / history_name(kind)
        if not path.exists():
            break
    write_private(path, text)
    write_private(folder / f"latest-{kind}.json", text, private_parent=own)
    for old in to_prune(folder, kind, keep):
        old.unlink(missing_ok=True)
    return path, tightened


def tighten(folder: Path) -> int:
    """
    Create ``folder`` 0700 with the marker when missing; make it 0700 only when it is the tool's
    own; the history subfolder 0700 and the tool's files 0600. How many entries were changed.
    """
    folder = Path(folder)
    changed = 0
    if not folder.exists():
        private_dir(folder)
        write_private(folder / MARKER, "made by pgconverge for its reports\n")
    elif is_ours(folder):
        changed += int(private_dir(folder))
        if not (folder / MARKER).exists():
            write_private(folder / MARKER, "made by pgconverge for its reports\n")
    existed = (folder / HISTORY).exists()
    if private_dir(folder / HISTORY) and existed:
        changed += 1
    mine = [p for p in folder.iterdir() if OURS.fullmatch(p.name)]
    mine += [p for kind in KINDS for p in history(folder, kind)]
    for path in mine:
        if path.is_file() and not path.is_symlink() and stat.S_IMODE(path.stat().st_mode) != FILE_MODE:
            chmod_own(path, FILE_MODE)  # a file with other hard links is refused, never chmod-ed
            changed += 1
    return changed


def tightened_note(folder: Path, count: int) -> str:
    return f"made {count} existing report file(s) and folder(s) in {folder} private (0600 files, 0700 folders)"
