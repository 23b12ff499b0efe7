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
    return LinkRefused(
        f"{shown(path)} is a symbolic link, which pgconverge did not make and does not write, lock, "
        "prune or chmod through: remove the link (pgconverge makes its own), then run again"
    )


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
        chmod_own(path, mode)
        return True
    except FileNotFoundError:
        return False


class NotRegular(ActionableError, OSError):
    """A file the tool reads, writes, locks or chmods is not a plain file of its own (a FIFO, a device,
    a folder, or a file with other hard links): refused in one line, never opened for long or written through."""

    def __init__(self, message: str):
        super().__init__(errno.EINVAL, message)

    def __str__(self) -> str:
        return str(self.strerror)


KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a folder",
}


def open_regular(
    path: Path, flags: int = os.O_RDONLY, mode: int = FILE_MODE, single_link: bool = False, follow: bool = False
) -> int:
    """``os.open`` that never follows a link, never waits on a FIFO (``O_NONBLOCK``) and refuses anything but a
    regular file (:class:`NotRegular`), and, with ``single_link``, a file with other hard links (writing,
    locking or chmod-ing it would change the file outside). ``follow``: a link is followed (a file in
    the user's own folders: migrations, seeds)."""
    fd = (
        os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC, mode)
        if follow
        else open_nofollow(Path(path), flags | os.O_NONBLOCK, mode)
    )
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
            raise NotRegular(
                f"{shown(path)} is {kind}, not a regular file: pgconverge does not read or write it; "
                "remove it (or put the file there), then run again"
            )
        if single_link and info.st_nlink > 1:
            raise NotRegular(
                f"{shown(path)} has {info.st_nlink - 1} other hard link(s): pgconverge does not write, "
                "lock or chmod a file shared with another name; remove it, then run again"
            )
        os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: Path, follow: bool = False) -> bytes:
    """The bytes of a regular file (:func:`open_regular`): a FIFO or device is refused, never waited on."""
    with os.fdopen(open_regular(path, follow=follow), "rb") as handle:
        return handle.read()


def read_regular_text(path: Path, encoding: str = "utf-8") -> str:
    return read_regular(path).decode(encoding)


def chmod_own(path: Path, mode: int) -> None:
    """chmod a file (through an fd opened without following a link, after the checks of
    :func:`open_regular` with ``single_link``) or a folder (lstat first, never a link)."""
    if stat.S_ISDIR(os.lstat(path).st_mode):
        os.chmod(path, mode)
        return
    fd = open_regular(path, os.O_RDONLY, single_link=True)
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
