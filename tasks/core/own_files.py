"""
Which files and folders under BACKUP_DIR and STATE_DIR are the tool's own, so that only those are
made private (0600/0700): a user's script or notes in the same folder keep their modes. Pure
listing; :func:`tasks.run.make_private` tightens (or, under ``--dry``, only names) them.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

from tasks.core.private import DIR_MODE, FILE_MODE

BACKUP_FOLDERS = ("source", "target")
# What the deploy writes into STATE_DIR (tasks/heroku/app.py, tasks/migrations/expected.py and
# parsed.py, tasks/core/pgtools.py, tasks/schema/versions.py).
STATE_FOLDERS = ("expected", "seeds-proven", "parsed", "cache")
STATE_FILE = re.compile(r"heroku-.+-(app-check\.json|logs-due)")


def _backup_entries(folder: Path) -> list[Path]:
    from tasks.backups import store  # the backup folder's own naming rules

    return [folder] + store.own_entries(folder)


def own_entries(backup_dir: Path, state_dir: Path) -> list[tuple[Path, int]]:
    """Every existing entry the tool made under these folders, with the mode it should have."""
    found: list[tuple[Path, int]] = []
    for name in BACKUP_FOLDERS:
        folder = Path(backup_dir) / name
        if folder.is_dir() and not folder.is_symlink():
            found += [(p, DIR_MODE if p == folder else FILE_MODE) for p in _backup_entries(folder)]
    state = Path(state_dir)
    if state.is_dir():
        found += [(p, FILE_MODE) for p in state.iterdir() if STATE_FILE.fullmatch(p.name) and p.is_file()]
        for name in STATE_FOLDERS:
            folder = state / name
            if folder.is_dir() and not folder.is_symlink():
                found.append((folder, DIR_MODE))
                found += [(p, FILE_MODE) for p in folder.iterdir() if p.is_file() and not p.is_symlink()]
    return found


def loose(backup_dir: Path, state_dir: Path) -> list[tuple[Path, int]]:
    """The tool's own entries whose mode is not yet the private one."""
    result = []
    for path, mode in own_entries(backup_dir, state_dir):
        try:
            info = path.lstat()
        except FileNotFoundError:
            continue
        if not stat.S_ISLNK(info.st_mode) and stat.S_IMODE(info.st_mode) != mode:
            result.append((path, mode))
    return result
