"""
Preflight of the folders a run writes to (REPORT_DIR, STATE_DIR, BACKUP_DIR): each must be
writable before anything changes, so a run never stops after the migrations because a report or
a state file cannot be written. Nothing is created: an existing folder gets a probe file (created
and removed at once, which also catches a read-only mount as root); a missing one is judged by its
nearest existing parent.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from tasks.core.errors import ActionableError, describe


class FolderError(ActionableError):
    """A folder the run needs cannot be written; the message names the setting and the folder."""


def unwritable(path: Path) -> str | None:
    """Why ``path`` (a folder, maybe not yet created) cannot be written to, or ``None``."""
    existing = path
    while not existing.exists():
        if existing.is_symlink():
            return f"{existing} is a dangling symbolic link"
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    if existing != path:
        if not os.access(existing, os.W_OK | os.X_OK):
            return f"{existing} is not writable (so {path} cannot be created)"
        return None
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".pgconverge-probe-"):
            pass
    except OSError as exc:
        return exc.strerror or describe(exc)
    return None


def check_writable(folders: dict[str, Path]) -> None:
    """Raise :class:`FolderError` for the first setting whose folder cannot be written."""
    for setting, path in folders.items():
        why = unwritable(Path(path))
        if why:
            raise FolderError(
                f"{setting}: {path} cannot be written ({why}): make it writable for this user "
                f"or point {setting} at another folder"
            )


def shared_folder(path: Path) -> bool:
    """Whether ``path`` is an existing folder others may write into (world-writable or sticky, like /tmp)."""
    try:
        mode = Path(path).stat().st_mode
    except OSError:
        return False
    return stat.S_ISDIR(mode) and bool(mode & (stat.S_IWOTH | stat.S_ISVTX))
