"""
A Heroku backup (``heroku pg:backups:capture``) with what the database held recorded beside it, for
``restore.py`` to check a restore of that backup against.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tasks.backups import store as backups


def heroku_capture_recorded(app: str, service: str, folder: Path, log: Callable[[str], None]) -> tuple[str, Path]:
    """``heroku pg:backups:capture``, and what the database held recorded beside (for restore.py):
    (what the CLI said of the backup, e.g. ``b005 …``; the record's path)."""
    from tasks.backups import dump
    from tasks.heroku import app as heroku_app

    state = dump.database_state(service)  # what restore.py checks a restore of this backup against
    captured = heroku_app.capture_backup(app, log)
    backup_id = captured.split()[0]
    path = backups.heroku_manifest_path(folder, app, backup_id)
    backups.write_json(
        path,
        {
            "tool": backups.TOOL,
            "verified": True,
            "heroku_app": app,
            "backup_id": backup_id,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "counted": "just before pg:backups:capture",
            **state,
        },
    )
    log(f"Heroku backup {captured}: what it holds is recorded in {path}")
    return captured, path
