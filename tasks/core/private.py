"""
Files that hold or describe data (dumps, manifests, reports, state): 0600 in 0700 folders,
whatever the umask. Existing ones are tightened; the caller says so once.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> bool:
    """Create ``path`` (and parents) as 0700; tighten it when it exists. True when it was tightened."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    return _tighten(path, DIR_MODE)


def write_private(path: Path, data: str | bytes, private_parent: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (a temporary name, then rename) with mode 0600; the
    folder is made 0700 too unless ``private_parent`` is false (a folder that is not the tool's)."""
    if private_parent:
        private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb" if isinstance(data, bytes) else "w") as handle:
            handle.write(data)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
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
