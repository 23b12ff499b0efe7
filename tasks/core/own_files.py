"""
Which files and folders under BACKUP_DIR and STATE_DIR are the tool's own, so that only those are
made private (0600/0700): a user's script or notes in the same folder keep their modes. Pure
listing; :func:`tasks.run.make_private` tightens (or, under ``--dry``, only names) them. Which
entries of a backup folder are the tool's is the backup store's rule, handed in by the caller
(``backup_entries``): this module imports nothing outside ``tasks.core``.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Callable
from pathlib import Path

from tasks.core.private import DIR_MODE, FILE_MODE

BACKUP_FOLDERS = ("source", "target")
# What the deploy writes into STATE_DIR (tasks/heroku/app.py, tasks/migrations/expected.py and
# parsed.py, tasks/core/pgtools.py, tasks/schema/versions.py).
STATE_FOLDERS = ("expected", "seeds-proven", "parsed", "cache")
STATE_FILE = re.compile(r"heroku-.+-(app-check\.json|logs-due)")


BackupEntries = Callable[[Path], list[Path]]  # a backup folder -> the tool's own files in it


def own_entries(backup_dir: Path, state_dir: Path, backup_entries: BackupEntries) -> list[tuple[Path, int]]:
    """Every existing entry the tool made under these folders, with the mode it should have;
    ``backup_entries`` names the tool's files in a backup folder (:func:`tasks.backups.store.own_entries`)."""
    found: list[tuple[Path, int]] = []
    for name in BACKUP_FOLDERS:
        folder = Path(backup_dir) / name
        if folder.is_dir() and not folder.is_symlink():
            found += [(folder, DIR_MODE)] + [(p, FILE_MODE) for p in backup_entries(folder) if p != folder]
    state = Path(state_dir)
    if state.is_dir():
        found += [(p, FILE_MODE) for p in state.iterdir() if STATE_FILE.fullmatch(p.name) and p.is_file()]
        for name in STATE_FOLDERS:
            folder = state / name
            if folder.is_dir() and not folder.is_symlink():
                found.append((folder, DIR_MODE))
                found += [(p, FILE_MODE) for p in folder.iterdir() if p.is_file() and not p.is_symlink()]
    return found


def loose(backup_dir: Path, state_dir: Path, backup_entries: BackupEntries) -> list[tuple[Path, int]]:
    """The tool's own entries whose mode is not yet the private one."""
    result = []
    for path, mode in own_entries(backup_dir, state_dir, backup_entries):
        try:
            info = path.lstat()
        except FileNotFoundError:
            continue
        if not stat.S_ISLNK(info.st_mode) and stat.S_IMODE(info.st_mode) != mode:
            result.append((path, mode))
    return result
