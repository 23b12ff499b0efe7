"""
The project's Python compiled into its ``__pycache__`` folders (git-ignored), whatever
``PYTHONDONTWRITEBYTECODE`` says: where it is set, every deploy the suite or the bench starts would
compile ``tasks/`` from source again (~0.14 s of CPU a run); a user's Python writes the bytecode on
its first run. Called once before the tests (tests/conftest.py) and before the bench's rounds.
"""

from __future__ import annotations

import compileall

from sandbox.paths import ROOT

PACKAGES = ("tasks", "sandbox")


def compile_code() -> None:
    for package in PACKAGES:
        compileall.compile_dir(ROOT / package, quiet=1)
