"""
``python -m sandbox.demo`` (``make demo`` after ``python -m sandbox up``): the whole deploy on the
sandbox's two clusters, twice (the second run has nothing to do). The demo's backups, reports and
state go under the sandbox (``.sandbox/demo``, set in ``.sandbox/env``), never into the user's own
``backups/`` and ``reports/``; the last line says the clusters are still running and how to stop them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sandbox.paths import ROOT, SANDBOX
from sandbox.state import demo_folders, load_state

PYINFRA = str(Path(sys.executable).with_name("pyinfra"))
RUNS = (("first run", "converge the target"), ("second run", "nothing is left to do"))


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if ROOT in path.parents else str(path)


def main() -> int:
    env = {**os.environ, "ENV_FILE": os.environ.get("ENV_FILE") or str(SANDBOX / "env")}
    for run, meaning in RUNS:
        print(f"== {run}: {meaning}", flush=True)
        done = subprocess.run([PYINFRA, "-y", "inventory.py", "deploy.py"], cwd=ROOT, env=env, check=False)
        if done.returncode != 0:
            return done.returncode
    state = load_state() or {}
    ports = ", ".join(f"{name} on port {state[name]['port']}" for name in ("source", "target") if name in state)
    print(f"== the demo's backups, reports and state: {_shown(demo_folders()['BACKUP_DIR'].parent)}")
    print(f"== the two sandbox clusters are still running ({ports}): stop them with make sandbox-down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
