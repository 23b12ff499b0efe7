"""
The report folder (``REPORT_DIR``): for each kind of report (``run``, ``validation``, ``health``)
``latest-<kind>.json`` plus a bounded history, ``<kind>-<UTC time>.json``, the newest
``REPORT_KEEP`` kept. Reports describe the data (tables, row counts, health), so they are private
like the backups: 0600 files in a 0700 folder, existing ones tightened. ``REPORT_DIR`` is a folder
of their own (it is made 0700, like ``BACKUP_DIR``); of the files in it only the reports are touched.
"""

from __future__ import annotations

import os
import re
import stat
import time
from pathlib import Path

from tasks.core.private import FILE_MODE, private_dir, write_private

KINDS = ("run", "validation", "health")
DEFAULT_KEEP = 20
# The report files (latest.json: the run report's name before latest-run.json), the schema picture.
OURS = re.compile(r"latest\.json|(latest-)?(run|validation|health)(-\d{8}T\d{6}Z)?\.json|\.?schema\.svg(\.sha256)?")


def history_name(kind: str, when: float | None = None) -> str:
    """``<kind>-<UTC time>.json``: names sort in time order."""
    return f"{kind}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(when))}.json"


def history(folder: Path, kind: str) -> list[Path]:
    """This kind's history files, oldest first (``latest-<kind>.json`` is not one of them)."""
    pattern = re.compile(rf"{re.escape(kind)}-\d{{8}}T\d{{6}}Z\.json")
    return sorted(p for p in Path(folder).glob(f"{kind}-*.json") if pattern.fullmatch(p.name))


def to_prune(folder: Path, kind: str, keep: int) -> list[Path]:
    """The history files beyond the newest ``keep``."""
    files = history(folder, kind)
    return files[:-keep] if keep > 0 else files


def write_report(folder: Path, kind: str, text: str, keep: int = DEFAULT_KEEP) -> tuple[Path, int]:
    """
    Write ``text`` as this run's ``<kind>-<time>.json`` and as ``latest-<kind>.json`` (each 0600,
    atomically), prune the history to ``keep`` files, and tighten what the folder already held.
    Returns the history file and how many existing entries were tightened (to say so once).
    """
    folder = Path(folder)
    tightened = tighten(folder)
    path = folder / history_name(kind)
    for target in (path, folder / f"latest-{kind}.json"):
        write_private(target, text)
    for old in to_prune(folder, kind, keep):
        old.unlink(missing_ok=True)
    return path, tightened


def tighten(folder: Path) -> int:
    """Make the folder 0700 and every report file in it 0600; how many were changed."""
    changed = int(private_dir(Path(folder)))
    for path in Path(folder).iterdir():
        if OURS.fullmatch(path.name) and path.is_file() and not path.is_symlink():
            if stat.S_IMODE(path.stat().st_mode) != FILE_MODE:
                os.chmod(path, FILE_MODE)
                changed += 1
    return changed


def tightened_note(folder: Path, count: int) -> str:
    return f"made {count} existing report file(s) and folder(s) in {folder} private (0600 files, 0700 folders)"
