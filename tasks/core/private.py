"""
Files that hold or describe data (dumps, manifests, reports, state): 0600 in 0700 folders,
whatever the umask. Existing ones are tightened; the caller says so once.

No write through a link the tool did not make: a folder the tool makes inside its folders
(``BACKUP_DIR/target``, ``REPORT_DIR/history``, ``STATE_DIR/cache``, ...) that is a symbolic link is
refused in one line (:class:`LinkRefused`), files are created under a fresh name with ``O_EXCL |
O_NOFOLLOW`` and renamed over (a rename replaces a link, it never writes through it), and a file
opened in place (a lock) is opened with ``O_NOFOLLOW``. Only the folders the settings name
(:func:`trust_links_at`) may themselves be links: the user chose them.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from tasks.core.errors import ActionableError
from tasks.core.shown import shown

FILE_MODE = 0o600
DIR_MODE = 0o700
NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC

_trusted: set[Path] = set()


class LinkRefused(ActionableError, OSError):
    """A file or folder the tool writes is a symbolic link it did not make (an OSError: where a folder
    that cannot be written is said, this is said)."""

    def __init__(self, message: str):
        super().__init__(errno.ELOOP, message)

    def __str__(self) -> str:
        return str(self.strerror)


def refusal(path: Path) -> LinkRefused:
    return LinkRefused(f"{shown(path)} is a symbolic link, which pgconverge did not make and does not write, lock, "
                       "prune or chmod through: remove the link (pgconverge makes its own), then run again")


def trust_links_at(*folders: Path) -> None:
    """The folders the settings name (BACKUP_DIR, STATE_DIR, REPORT_DIR) may be links: the user made them so."""
    _trusted.update(Path(os.path.abspath(folder)) for folder in folders)


def refuse_link(path: Path) -> None:
    """:class:`LinkRefused` when ``path`` is a symbolic link that is not a folder the settings name."""
    if Path(path).is_symlink() and Path(os.path.abspath(path)) not in _trusted:
        raise refusal(Path(path))


def open_nofollow(path: Path, flags: int, mode: int = FILE_MODE) -> int:
    """``os.open`` that never follows a link at ``path`` (a planted link is refused in one line)."""
    try:
        return os.open(path, flags | NOFOLLOW, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise refusal(Path(path)) from None
        raise


def private_dir(path: Path) -> bool:
    """Create ``path`` (and parents) as 0700; tighten it when it exists. True when it was tightened.
    A link at ``path`` is refused (:func:`refuse_link`)."""
    refuse_link(path)
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    return _tighten(path, DIR_MODE)


def write_private(path: Path, data: str | bytes, private_parent: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (a temporary name, then rename) with mode 0600; the
    folder is made 0700 too unless ``private_parent`` is false (a folder that is not the tool's)."""
    if private_parent:
        private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)  # a stale one, or a link planted under this name: removed, never followed
    fd = open_nofollow(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        with os.fdopen(fd, "wb" if isinstance(data, bytes) else "w") as handle:
            handle.write(data)
            os.fchmod(handle.fileno(), FILE_MODE)
        os.replace(tmp, path)  # replaces a link at ``path`` itself, never what it points at
    except OSError as exc:
        tmp.unlink(missing_ok=True)  # no temporary file left behind on a full disk
        if exc.filename is None:  # a write or close failed: name the file it was for
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _tighten(path: Path, mode: int) -> bool:
    try:
        current = stat.S_IMODE(path.lstat().st_mode)
        if path.is_symlink() or current == mode:
            return False
        os.chmod(path, mode)
        return True
    except FileNotFoundError:
        return False
