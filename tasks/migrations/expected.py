"""
The expected schema: the catalog of the shadow database on which every migration was proven,
cached under ``STATE_DIR/expected/<set checksum>.json`` so the proof runs only when the files
change. Written atomically; a file for another set of migrations is never used.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from tasks.core.private import read_regular_text, write_private
from tasks.migrations.files import Migration, set_checksum

# Bumped whenever read_migrations' checks of a file change, or what the catalog snapshot records (3: a
# trigger's firing mode, comments on indexes and constraints, statistics targets, CLUSTER, tablespace,
# replica identity): a set proven before is proven again, so its expected schema has the same fields.
CHECKS = 3
_loaded: dict[Path, dict[str, Any] | None] = {}  # read once a run (the proof's save replaces it)


def cache_path(state_dir: Path, migrations: list[Migration]) -> Path:
    return Path(state_dir) / "expected" / f"{set_checksum(migrations)}.json"


def is_proven(state_dir: Path, migrations: list[Migration]) -> bool:
    """Whether exactly these files were proven (and so checked, by checks as strict as today's)."""
    return load_expected(state_dir, migrations) is not None


def load_expected(state_dir: Path, migrations: list[Migration]) -> dict[str, Any] | None:
    """The cached expected schema for exactly these files, or None when they were never proven."""
    path = cache_path(state_dir, migrations)
    if path not in _loaded:
        try:
            document = json.loads(read_regular_text(path))
        except (OSError, ValueError):
            return None
        good = document.get("set_checksum") == set_checksum(migrations) and document.get("checks") == CHECKS
        _loaded[path] = document.get("catalog") if good else None
    return _loaded[path]


def save_expected(state_dir: Path, migrations: list[Migration], snapshot: dict[str, Any], server_version: str) -> Path:
    """Write atomically (temporary name, then rename): a killed run never leaves half a file."""
    path = cache_path(state_dir, migrations)
    document = {
        "set_checksum": set_checksum(migrations),
        "files": [m.filename for m in migrations],
        "server_version": server_version,
        "checks": CHECKS,
        "catalog": snapshot,
    }
    write_private(path, json.dumps(document, indent=1, sort_keys=True))  # 0600, never through a planted link
    _loaded[path] = snapshot
    return path


def seed_key(migrations: list[Migration], seed_texts: list[tuple[str, str]]) -> str:
    """The set of migrations and seed files (name, text) proven together."""
    digest = hashlib.sha256(set_checksum(migrations).encode())
    for name, text in seed_texts:
        digest.update(f"\0{name}\0{text}".encode())
    return digest.hexdigest()


def seeds_proven(state_dir: Path, key: str) -> bool:
    return (Path(state_dir) / "seeds-proven" / key).exists()


def mark_seeds_proven(state_dir: Path, key: str) -> None:
    write_private(Path(state_dir) / "seeds-proven" / key, "")
