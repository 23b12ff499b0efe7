"""
Shared pytest fixtures.

``sandbox`` (session): brings up the two local PostgreSQL clusters of ``tasks.sandbox`` once per
session (idempotent and fast when they already run) and returns the state dict from
``tasks.sandbox.up()`` (ports, passwords, ``env`` URLs). The clusters are left running at the
end; a test that stops them must start them again.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def sandbox() -> dict:
    from tasks import sandbox as sandbox_module

    try:
        return sandbox_module.up()
    except sandbox_module.SandboxError as exc:
        pytest.fail(f"sandbox up failed: {exc}", pytrace=False)
