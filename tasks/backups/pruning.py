"""
Pruning a backup folder, and the folder's lock. What is safe to delete is decided here, and only
ever among the tool's own verified backups (:func:`tasks.backups.store.scan` sorts them):

* a dump without a manifest (the user's own file, or one still being written) is never touched;
* a dump whose sha256 is no longer its manifest's is set aside (renamed ``…dump.set-aside``,
  reported), never deleted; one whose size or mtime alone changed gets its manifest refreshed;
* the newest verified backup of a database is never pruned, and BACKUP_KEEP are kept exactly;
* writers hold the folder's lock shared while they dump, verify, write the manifest and only then
  give the dump its final name, and a restore holds it shared from the moment its backup is chosen
  until the process ends; pruning needs the lock exclusively and waits for no one: when another run
  is writing or restoring, it is left to whichever run finishes last.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tasks.backups.store import (
    LOCK_NAME,
    NAME,
    SET_ASIDE,
    Backup,
    Scan,
    belongs,
    check_file,
    file_prefix,
    is_own_manifest,
    manifest_path,
    read_json,
    safe_name,
    scan,
    to_prune,
    write_manifest,
)
from tasks.core.errors import ActionableError
from tasks.core.private import open_regular, private_dir, read_regular_text


@dataclass
class Tidied:
    """What :func:`tidy` did (every file named: the run's output says which backups went where)."""

    pruned: list[Path] = field(default_factory=list)
    set_aside: list[tuple[Path, str, Path]] = field(default_factory=list)  # (dump, why, its new name)
    refreshed: list[Path] = field(default_factory=list)
    orphans: list[Path] = field(default_factory=list)  # manifests removed: their dump was gone
    unreadable: list[tuple[Path, str]] = field(default_factory=list)  # manifests that are not JSON
    postponed: bool = False

    def describe(self, keep: int) -> str:
        parts = []
        if self.pruned:
            parts.append(f"pruned {', '.join(p.name for p in self.pruned)} (keeping {keep})")
        if self.refreshed:
            parts.append(f"re-verified {len(self.refreshed)} moved or copied backup(s) by sha256")
        for path, why, aside in self.set_aside:
            parts.append(
                f"set aside {path.name} as {aside.name} ({why}): it is not deleted; look at it, then delete it yourself"
            )
        for path in self.orphans:
            parts.append(
                f"removed manifest {path.name}: its dump {path.with_suffix('.dump').name} is gone "
                "(deleted by hand, or a run was killed before naming it)"
            )
        for path, why in self.unreadable:
            parts.append(
                f"manifest {path.name} is unreadable ({why}): its dump is not counted as a backup and "
                "never deleted; fix or delete the manifest"
            )
        if self.postponed:
            parts.append("pruning left to the run still writing to or restoring from this folder")
        return "; ".join(parts)


class FolderLocked(ActionableError, RuntimeError):
    """The backup folder stayed locked by another run for longer than the wait allowed."""


LOCK_WAIT_S = 600.0  # how long a writer waits for a run that is pruning the folder


@contextlib.contextmanager
def writing(folder: Path, log: Callable[[str], None] | None = None, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
    """
    Hold the folder's lock shared while a backup is written into it (pruning waits for no writer).
    While another run prunes (holds it exclusively), say so once and wait at most ``wait_s``, then
    raise :class:`FolderLocked` naming that run's process.
    """
    handle = _lock_file(folder)
    try:
        _share(handle, folder, log, wait_s)
        yield
    finally:
        handle.close()


_held: dict[Path, Any] = {}  # folders whose lock this process holds shared until it ends (a restore's)


def hold_until_exit(folder: Path, log: Callable[[str], None] | None = None, wait_s: float = LOCK_WAIT_S) -> None:
    """
    Hold the folder's lock shared until this process ends (as :func:`writing` does for a block): the
    backup a restore reads cannot be pruned by any run, this one or another, from the moment it is
    chosen (before the plan and the prompt) until the restore is over. Pruning is left to a later run.
    """
    key = Path(folder).resolve()
    if key in _held:
        return
    handle = _lock_file(folder)
    try:
        _share(handle, folder, log, wait_s)
    except BaseException:
        handle.close()
        raise
    _held[key] = handle  # closed (and the lock let go) when the process exits


def _share(handle, folder: Path, log: Callable[[str], None] | None, wait_s: float) -> None:
    """Take the lock of ``handle`` shared, waiting at most ``wait_s`` for a run that is pruning."""
    deadline = time.monotonic() + wait_s
    said = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            holder = _holder(handle)
            if time.monotonic() >= deadline:
                raise FolderLocked(
                    f"backup folder {folder} is still locked by another pgconverge run{holder} after "
                    f"{wait_s:.0f}s: wait for it to finish and re-run "
                    f"(or remove a stale {Path(folder) / LOCK_NAME} if no such run exists)"
                ) from None
            if not said and log:
                log(f"waiting up to {wait_s:.0f}s for another pgconverge run{holder} that is pruning {folder}")
            said = True
            time.sleep(0.2)


@contextlib.contextmanager
def pruning(folder: Path) -> Iterator[bool]:
    """The folder's lock exclusively, if no other run is writing there: yields whether it was had.
    The holder's process id is written in the lock file, for a waiting run's message."""
    handle = _lock_file(folder)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield True
    finally:
        handle.close()


def _holder(handle) -> str:
    """`` (process 1234)`` from the lock file, when it names a live process."""
    from tasks.core.processes import pid_alive

    handle.seek(0)
    text = handle.read().strip()
    return f" (process {text})" if text.isdigit() and pid_alive(int(text)) else ""


def _lock_file(folder: Path):
    private_dir(Path(folder))
    fd = open_regular(Path(folder) / LOCK_NAME, os.O_RDWR | os.O_CREAT, single_link=True)  # a link, FIFO: refused
    return os.fdopen(fd, "r+")


def tidy(folder: Path, dbname: str, keep: int, protect: Path | None = None, ident: str | None = None) -> Tidied:
    """
    Under the folder's exclusive lock: refresh the manifests of re-verified backups, set damaged
    ones aside, remove (and name) manifests left without a dump, prune beyond ``keep``: the
    backups kept are hashed first, and one that fails is set aside and not counted.
    """
    done = Tidied()
    with pruning(folder) as mine:
        if not mine:
            done.postponed = True
            return done
        found = scan(folder, dbname, ident)
        for backup in found.reverified:
            info = backup.path.stat()
            write_manifest(backup.path, {**backup.manifest, "size_bytes": info.st_size, "mtime_ns": info.st_mtime_ns})
            done.refreshed.append(backup.path)
        for dump, why in found.damaged:
            done.set_aside.append((dump, why, set_aside(dump)))
        done.unreadable = unreadable_manifests(folder, dbname)
        done.orphans = remove_orphan_manifests(folder, dbname, ident)
        remove_temporary_files(folder)
        hashed = {b.path for b in found.reverified} | ({protect} if protect else set())
        verified = list(found.verified)
        while to_prune(Scan(verified=verified), keep, protect):
            bad = _first_damaged(verified[-max(keep, 1) :], hashed)
            if bad is None:
                break
            verified.remove(bad[0])
            done.set_aside.append((bad[0].path, bad[1], set_aside(bad[0].path)))
        done.pruned = to_prune(Scan(verified=verified), keep, protect)
        prune(done.pruned)
    return done


def _first_damaged(kept: list[Backup], hashed: set[Path]) -> tuple[Backup, str] | None:
    """The newest of ``kept`` whose sha256 is not its manifest's (each file hashed once: ``hashed``)."""
    for backup in reversed(kept):
        if backup.path in hashed:
            continue
        why = check_file(backup.path, backup.manifest)
        if why:
            return backup, why
        hashed.add(backup.path)
    return None


def unreadable_manifests(folder: Path, dbname: str) -> list[tuple[Path, str]]:
    """Manifests named like this database's backups that cannot be read as one (reported, kept)."""
    found = []
    for path in sorted(Path(folder).glob("*.json")):
        match = NAME.fullmatch(path.with_suffix(".dump").name)
        if not match or match["db"] not in (safe_name(dbname), file_prefix(dbname)):
            continue
        try:
            manifest = json.loads(read_regular_text(path))
        except (OSError, ValueError) as exc:
            found.append((path, getattr(exc, "strerror", None) or "not JSON"))
            continue
        if not isinstance(manifest, dict):
            found.append((path, "not a JSON object"))
    return found


def set_aside(dump: Path) -> Path:
    """Rename a dump that failed verification (and its manifest) out of the way under a name no
    other file has (``X.dump.set-aside``, ``X.dump.set-aside-2``…); never delete, never overwrite.
    Returns the dump's new name."""
    suffix, n = SET_ASIDE, 1
    while any(p.with_name(p.name + suffix).exists() for p in (dump, manifest_path(dump))):
        n += 1
        suffix = f"{SET_ASIDE}-{n}"
    for path in (dump, manifest_path(dump)):
        if path.exists():
            path.rename(path.with_name(path.name + suffix))
    return dump.with_name(dump.name + suffix)


def prune(paths: list[Path]) -> None:
    """Delete these verified backups: the manifest last, so a dump is never left looking foreign."""
    for dump in paths:
        for path in (dump, manifest_path(dump)):
            path.unlink(missing_ok=True)


def remove_orphan_manifests(folder: Path, dbname: str, ident: str | None = None) -> list[Path]:
    """Manifests whose dump never got its final name (a run killed between the two): under the lock only."""
    removed = []
    for path in Path(folder).glob("*.json"):
        manifest = read_json(path)
        if not (
            NAME.fullmatch(path.with_suffix(".dump").name)
            and manifest is not None
            and is_own_manifest(manifest)
            and belongs(manifest, dbname, ident)
        ):
            continue
        if not path.with_suffix(".dump").exists():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def remove_temporary_files(folder: Path) -> list[Path]:
    """What a killed run left half-written, once its process is gone: dumps (``.tmp-<pid>-*.dump``)
    and manifests (``.<name>.json.<pid>.tmp``)."""
    from tasks.core.processes import pid_alive

    removed = []
    for path in Path(folder).glob(".*"):
        match = re.match(r"\.tmp-(\d+)-", path.name) or re.fullmatch(r"\..+\.json\.(\d+)\.tmp", path.name)
        if match and not pid_alive(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
