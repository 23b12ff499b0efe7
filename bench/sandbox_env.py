"""The sandbox's env file (SOURCE_DATABASE_URL, TARGET_DATABASE_URL): ``SANDBOX_DIR`` picks another
sandbox (each parallel test worker has its own), else the checkout's ``.sandbox``."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sandbox_env_file() -> Path:
    return Path(os.environ.get("SANDBOX_DIR") or ROOT / ".sandbox") / "env"
