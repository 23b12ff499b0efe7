"""
Which backups restore.py may restore onto a target, for its listing and its checks. No database here.

* :func:`describe` shows a verified backup in one line: time, size, what it holds, local dump,
  record of an empty database, or Heroku backup;
* :func:`find` turns ``--data backup=`` into a path: as given, else a bare file name in the
  target's backup folder; ``None`` when it is in neither place (the caller lists the candidates);
* :func:`not_this_database` says why a backup is not of the target (server and database name, as
  its manifest records them): restoring another database's backup would replace the target with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tasks.backups import store


def describe(path: Path, manifest: dict[str, Any]) -> str:
    """Pure: ``app-2026….dump  2026-12-06T10:15:00Z  1.2 MB  local dump: 4 tables, 1,234 rows``."""
    found = manifest.get("rows")
    rows: dict[str, int] = found if isinstance(found, dict) else {}
    if store.is_empty_backup(manifest):
        kind, size = "record of an empty database (nothing to restore but emptiness)", "0 MB"
    else:
        heroku = path.name.startswith("heroku-")
        kind = "Heroku backup" if heroku else "local dump"
        kind += f": {manifest.get('tables', len(rows))} table(s), {sum(rows.values()):,} row(s)"
        size = f"{(manifest.get('size_bytes') or 0) / 1e6:,.1f} MB" if not heroku else "size on Heroku"
        if manifest.get("taken"):
            kind += f", taken {manifest['taken']}"
    return f"{path.name}  {manifest.get('created_at', '?')}  {size}  {kind}"


def candidates(folder: Path, database: str, ident: str) -> list[store.Backup]:
    """The verified backups of this target in ``folder`` (newest first); a folder not there holds none."""
    if not Path(folder).is_dir():
        return []
    return list(reversed(store.verified_backups(folder, database, ident)))


def heroku_candidates(folder: Path, app: str) -> list[store.Backup]:
    """The Heroku backups the deploy captured and recorded for ``app`` (newest first)."""
    found = []
    for path in sorted(Path(folder).glob(f"heroku-{store.safe_name(app)}-*.json")) if Path(folder).is_dir() else []:
        manifest = store.read_json(path)
        if store.is_restorable(manifest):
            found.append(store.Backup(path, manifest))  # type: ignore[arg-type]
    return sorted(found, key=lambda b: b.manifest.get("created_at", ""), reverse=True)


def listing(backups: list[store.Backup], where: str) -> list[str]:
    """Lines naming each candidate, or saying there is none."""
    if not backups:
        return [f"no verified backup of this target in {where}"]
    return [f"verified backups of this target in {where} (newest first):"] + [
        f"  {describe(b.path, b.manifest)}" for b in backups
    ]


def find(backup: str, folder: Path) -> Path | None:
    """The path ``backup`` names: as given when its manifest or dump is there, else a bare file name
    in ``folder`` (the target's backup folder). None: in neither place."""
    given = Path(backup)
    if given.exists() or store.manifest_path(given).exists():
        return given
    if given.name == backup and (Path(folder) / backup).exists():
        return Path(folder) / backup
    return None


def not_this_database(manifest: dict[str, Any], database: str, ident: str) -> str | None:
    """Pure: why ``manifest`` is not a backup of the target (``ident``: :func:`store.identity`), or None.
    A manifest without an identity (an older one) must at least name the same database."""
    recorded = manifest.get("identity")
    if recorded is not None and recorded != ident:
        return f"it is a backup of {recorded}, and the target is {ident}"
    if manifest.get("database") != database:
        return f"it is a backup of database {manifest.get('database')}, and the target is database {database}"
    return None
