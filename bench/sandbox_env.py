"""The sandbox's env file (SOURCE_DATABASE_URL, TARGET_DATABASE_URL): ``SANDBOX_DIR`` picks another
sandbox (each parallel test worker has its own), else the checkout's ``.sandbox``."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sandbox_env_file() -> Path:
    return Path(os.environ.get("SANDBOX_DIR") or ROOT / ".sandbox") / "env"


def deploy_env(work: Path, source_url: str, target_url: str, **settings: str) -> dict[str, str]:
    """A bench deploy's environment: the bench's own folders under ``work`` (no seed, its state, backups,
    reports and plan records: never the checkout's), no libpq variable of the shell, no progress bar."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(
        ENV_FILE=str(work / "empty.env"),
        SOURCE_DATABASE_URL=source_url,
        TARGET_DATABASE_URL=target_url,
        SEED_DIR=str(work / "no-seed"),
        STATE_DIR=str(work / "state"),
        BACKUP_DIR=str(work / "backups"),
        REPORT_DIR=str(work / "reports"),
        PLANS_DIR=str(work / "plans"),
        PYINFRA_PROGRESS="off",
        **settings,
    )
    return env
