"""
Backup files and their manifests: naming, listing, checking, pruning. No database here.

A backup is ``<folder>/<db>-<UTC time>.dump`` (``pg_dump -Fc``) with ``<same>.json`` beside it:
server and pg_dump versions, tables and exact row counts (counted in the dump's own snapshot),
size, mtime, duration, sha256, and the source fingerprint it was taken at. Never a password.
A backup without a manifest, or whose file no longer has the recorded size and mtime (a truncated
or replaced file) is not a verified backup.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NAME = re.compile(r"(?P<db>.+)-(?P<stamp>\d{8}T\d{6}\d*Z)\.dump")
TOC_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE (?!DATA |ATTACH )(?P<schema>\S+) (?P<table>\S+) ")


@dataclass(frozen=True)
class Backup:
    path: Path
    manifest: dict[str, Any]

    @property
    def fingerprint(self) -> str | None:
        return self.manifest.get("fingerprint")


def stamp(now: float | None = None) -> str:
    """UTC time with microseconds, so two backups in one second never share a name."""
    now = time.time() if now is None else now
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now % 1 * 1_000_000):06d}Z"


def backup_path(folder: Path, dbname: str, now: float | None = None) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", dbname)
    return Path(folder) / f"{safe}-{stamp(now)}.dump"


def manifest_path(dump: Path) -> Path:
    return dump.with_suffix(".json")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def toc_tables(listing: str) -> list[str]:
    """``schema.table`` of every TABLE entry in ``pg_restore --list`` output."""
    return [f"{m['schema']}.{m['table']}" for m in map(TOC_TABLE.match, listing.splitlines()) if m]


def write_manifest(dump: Path, manifest: dict[str, Any]) -> Path:
    path = manifest_path(dump)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    temporary.replace(path)
    return path


def file_matches(dump: Path, manifest: dict[str, Any]) -> bool:
    """The file still has the size and mtime recorded when it was verified."""
    try:
        info = dump.stat()
    except OSError:
        return False
    return info.st_size == manifest.get("size_bytes") and info.st_mtime_ns == manifest.get("mtime_ns")


def verified_backups(folder: Path, dbname: str | None = None) -> list[Backup]:
    """Every verified backup in ``folder`` (of ``dbname``), oldest first."""
    found = []
    for dump in sorted(Path(folder).glob("*.dump")):
        match = NAME.fullmatch(dump.name)
        if not match or (dbname is not None and match["db"] != re.sub(r"[^A-Za-z0-9_.-]", "_", dbname)):
            continue
        try:
            manifest = json.loads(manifest_path(dump).read_text())
        except (OSError, ValueError):
            continue
        if manifest.get("verified") and file_matches(dump, manifest):
            found.append(Backup(dump, manifest))
    return sorted(found, key=lambda b: b.manifest.get("created_at", ""))


def to_prune(folder: Path, dbname: str, keep: int, protect: Path | None = None) -> list[Path]:
    """The oldest verified backups beyond ``keep`` (never ``protect``), plus unverified leftovers."""
    backups = verified_backups(folder, dbname)
    verified = {b.path for b in backups}
    old = [b.path for b in backups[: max(0, len(backups) - keep)] if b.path != protect]
    leftovers = [
        p for p in Path(folder).glob("*.dump")
        if p not in verified and p != protect and NAME.fullmatch(p.name) and NAME.fullmatch(p.name)["db"] == dbname
    ]
    return sorted(old + leftovers)


def prune(paths: list[Path]) -> None:
    for dump in paths:
        for path in (dump, manifest_path(dump)):
            try:
                path.unlink()
            except FileNotFoundError:
                pass


def remove_temporary_files(folder: Path) -> list[Path]:
    """Half-written dumps of a killed run (``.tmp-<pid>-*.dump``) whose process is gone."""
    from tasks.core.processes import pid_alive

    removed = []
    for path in Path(folder).glob(".tmp-*"):
        match = re.match(r"\.tmp-(\d+)-", path.name)
        if match and not pid_alive(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
