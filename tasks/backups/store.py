"""
Backup files and their manifests: naming, listing, checking. No database here.

A backup is ``<folder>/<db>-<UTC time>.dump`` (``pg_dump -Fc``) with ``<same>.json`` beside it:
server and pg_dump versions, tables and exact row counts and the catalog (read in the dump's own
snapshot), size, mtime, duration, sha256, and the source fingerprint it was taken at. Never a
password. Files are 0600 in 0700 folders. The backup of a target that held nothing is its manifest
alone, ``<db>-<UTC time>.json`` with ``"empty": true`` (no dump: see :mod:`tasks.backups.empty`); it
is listed, counted and pruned like any verified backup.

:func:`scan` sorts a folder's files: a dump without a manifest (the user's own file, or one still
being written) is foreign and never touched; a dump whose size or mtime changed since its manifest
(a ``tar`` round trip keeps whole seconds) is hashed again: the same sha256 makes it verified again,
another makes it damaged. What is done with them (pruning, setting aside, the folder's lock) is
:mod:`tasks.backups.pruning`'s.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tasks.core.private import open_regular, read_regular_text, write_private

NAME = re.compile(r"(?P<db>.+)-(?P<stamp>\d{8}T\d{6}\d*Z)\.dump")
TOC_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE (?!DATA |ATTACH )(?P<rest>.*)$")
SET_ASIDE = ".set-aside"
LOCK_NAME = ".lock"
TOOL = "pgconverge"


@dataclass(frozen=True)
class Backup:
    path: Path
    manifest: dict[str, Any]

    @property
    def fingerprint(self) -> str | None:
        return self.manifest.get("fingerprint")


@dataclass
class Scan:
    """What a backup folder holds for one database (see the module's docstring)."""

    verified: list[Backup] = field(default_factory=list)  # oldest first
    reverified: list[Backup] = field(default_factory=list)  # size/mtime changed, sha256 the same
    damaged: list[tuple[Path, str]] = field(default_factory=list)  # (dump, why): to be set aside
    foreign: list[Path] = field(default_factory=list)  # named like a backup, no manifest: never touched


def stamp(now: float | None = None) -> str:
    """UTC time with microseconds, so two backups in one second never share a name."""
    now = time.time() if now is None else now
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now % 1 * 1_000_000):06d}Z"


def safe_name(dbname: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", dbname)


def file_prefix(dbname: str) -> str:
    """The database's part of a backup's file name: the name itself when it is safe in a file
    name, else its safe form and a short hash of the real name (``sp_ace~1a2b3c4d``), so that
    "sp ace" and "sp_ace" never share names."""
    safe = safe_name(dbname)
    return safe if safe == dbname else f"{safe}~{hashlib.sha256(dbname.encode()).hexdigest()[:8]}"


SERVER_KEY = "cluster "


def identity(label: str, dbname: str, server: str | None = None) -> str:
    """Which database a backup is of: ``server`` (:func:`tasks.core.identity.server_key`: the cluster's
    system identifier, the database's name and oid, as the server says them, whatever the URL's host
    spelling); only where the role may not read the system identifier, the server of the redacted URL
    ``label`` (host:port) and the database's name. Backups are grouped by it, never by file name."""
    if server:
        return server
    try:
        url = urlsplit(label)
        server = f"{url.hostname or 'local'}:{url.port or 5432}" if url.scheme.startswith("postgres") else label
    except ValueError:
        server = label
    return f"{server}/{dbname}"


def backup_path(folder: Path, dbname: str, now: float | None = None) -> Path:
    return Path(folder) / f"{file_prefix(dbname)}-{stamp(now)}.dump"


def belongs(manifest: dict[str, Any], dbname: str, ident: str | None) -> bool:
    """Whether a manifest is of this database: its identity (older manifests: its database name)."""
    if ident is not None and "identity" in manifest:
        if ident.startswith(SERVER_KEY) and not str(manifest["identity"]).startswith(SERVER_KEY):
            return manifest.get("database") == dbname  # an older manifest: its URL's spelling is not compared
        return manifest["identity"] == ident
    return manifest.get("database") == dbname


def manifest_path(dump: Path) -> Path:
    return dump.with_suffix(".json")


def empty_backup_path(folder: Path, dbname: str, now: float | None = None) -> Path:
    """Where the backup of an empty database goes: a manifest named like a dump's."""
    return manifest_path(backup_path(folder, dbname, now))


def heroku_manifest_path(folder: Path, app: str, backup_id: str) -> Path:
    """Where the deploy records what a Heroku backup (``b005``) holds, when it captures it."""
    return Path(folder) / f"heroku-{safe_name(app)}-{safe_name(backup_id)}.json"


def write_json(path: Path, manifest: dict[str, Any]) -> Path:
    write_private(path, json.dumps(manifest, indent=1, sort_keys=True))
    return path


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with os.fdopen(open_regular(path), "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def toc_tables(listing: str) -> list[str]:
    """
    What follows ``TABLE`` in every table entry of ``pg_restore --list``: ``schema name owner``.

    pg_restore prints names unquoted (newlines turned into spaces), so a name may hold spaces and
    the line cannot be split: compare it whole with :func:`toc_entry` of the tables expected.
    """
    return [m["rest"] for m in map(TOC_TABLE.match, listing.splitlines()) if m]


def toc_entry(schema: str, name: str, owner: str) -> str:
    """How pg_restore --list prints a table: names as they are, newlines as spaces."""
    return " ".join(re.sub(r"[\r\n]", " ", part) for part in (schema, name, owner))


def read_manifest(dump: Path) -> dict[str, Any] | None:
    return read_json(manifest_path(dump))


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads(read_regular_text(path))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def write_manifest(dump: Path, manifest: dict[str, Any]) -> Path:
    return write_json(manifest_path(dump), manifest)


def file_matches(dump: Path, manifest: dict[str, Any]) -> bool:
    """The file still has the size and mtime recorded when it was verified."""
    try:
        info = dump.stat()
    except OSError:
        return False
    return info.st_size == manifest.get("size_bytes") and info.st_mtime_ns == manifest.get("mtime_ns")


def check_file(dump: Path, manifest: dict[str, Any]) -> str | None:
    """Why ``dump`` is not the file ``manifest`` describes (None: it is): size first, then sha256.
    The backup of an empty database is its manifest: it is that file when it is there."""
    if is_empty_backup(manifest):
        return None if dump == manifest_path(dump) and dump.is_file() else "it is the record of an empty database"
    try:
        size = dump.stat().st_size
    except OSError as exc:
        return f"unreadable: {exc.strerror}"
    if size != manifest.get("size_bytes"):
        return f"{size:,} bytes, its manifest says {manifest.get('size_bytes')}"
    try:
        digest = sha256_file(dump)
    except OSError as exc:
        return f"unreadable: {exc.strerror}"
    if digest != manifest.get("sha256"):
        return "its sha256 differs from its manifest's"
    return None


def is_own_manifest(manifest: dict[str, Any] | None) -> bool:
    return bool(manifest and manifest.get("verified") and isinstance(manifest.get("sha256"), str))


def is_empty_backup(manifest: dict[str, Any] | None) -> bool:
    """The manifest that is the whole backup of a database that held nothing (no dump beside it)."""
    return bool(
        manifest
        and manifest.get("tool") == TOOL
        and manifest.get("verified")
        and manifest.get("empty") is True
        and manifest.get("tables") == 0
        and manifest.get("rows") == {}
        and isinstance(manifest.get("catalog"), dict)
    )


def is_restorable(manifest: dict[str, Any] | None) -> bool:
    """A Heroku backup's manifest: what the database held when the deploy captured it."""
    return bool(
        manifest
        and manifest.get("verified")
        and isinstance(manifest.get("rows"), dict)
        and isinstance(manifest.get("catalog"), dict)
    )


def own_entries(folder: Path) -> list[Path]:
    """The tool's own files in a backup folder: dumps with a manifest of ours, manifests, set-aside
    files, the lock. Nothing else (a user's file, even named like a backup, is not ours)."""
    own = []
    for path in sorted(Path(folder).iterdir()):
        if path.is_symlink() or not path.is_file():
            continue
        verified_manifest = path.suffix == ".json" and bool((read_json(path) or {}).get("verified"))
        dump_of_ours = path.suffix == ".dump" and is_own_manifest(read_manifest(path))
        if path.name == LOCK_NAME or SET_ASIDE in path.name or verified_manifest or dump_of_ours:
            own.append(path)
    return own


def scan(folder: Path, dbname: str | None = None, ident: str | None = None) -> Scan:
    """Sort the backups in ``folder`` (of ``dbname`` on the server of ``ident``, see :func:`identity`)
    into verified, re-verified, damaged and foreign."""
    found = Scan()
    for dump in sorted(Path(folder).glob("*.dump")):
        match = NAME.fullmatch(dump.name)
        if not match or dump.name.startswith("."):
            continue
        manifest = read_manifest(dump)
        if manifest is None or not is_own_manifest(manifest):
            if dbname is None or match["db"] in (safe_name(dbname), file_prefix(dbname)):
                found.foreign.append(dump)
            continue
        if dbname is not None and not belongs(manifest, dbname, ident):
            continue
        if file_matches(dump, manifest):
            found.verified.append(Backup(dump, manifest))
            continue
        problem = check_file(dump, manifest)
        if problem:
            found.damaged.append((dump, problem))
            continue
        backup = Backup(dump, manifest)
        found.verified.append(backup)
        found.reverified.append(backup)
    for path in sorted(Path(folder).glob("*.json")):
        manifest = (
            None if path.name.startswith(".") or not NAME.fullmatch(path.with_suffix(".dump").name) else read_json(path)
        )
        if manifest is not None and is_empty_backup(manifest) and (dbname is None or belongs(manifest, dbname, ident)):
            found.verified.append(Backup(path, manifest))
    found.verified.sort(key=lambda b: (b.manifest.get("created_at", ""), b.path.name))
    return found


def verified_backups(folder: Path, dbname: str | None = None, ident: str | None = None) -> list[Backup]:
    """Every verified backup in ``folder`` (of ``dbname``), oldest first (sha256 checked when moved)."""
    return scan(folder, dbname, ident).verified


def to_prune(found: Scan, keep: int, protect: Path | None = None) -> list[Path]:
    """The oldest verified backups beyond ``keep``: never the newest, never ``protect``, nothing else."""
    verified = [b.path for b in found.verified]
    if not verified:
        return []
    old = verified[: max(0, len(verified) - max(keep, 1))]
    return [path for path in old if path != protect and path != verified[-1]]
