"""
The embedded default wherever the checkout is: as root in a checkout under a private folder (0700,
like /root or a ``mktemp -d`` folder) the server OS user cannot reach ``.sandbox/``, so the
clusters live in a folder it can reach, the sandbox says where, the whole deploy runs there twice
(the second time with nothing to do), and ``destroy`` removes both places. Real clusters, real
pyinfra; a copy of this checkout, its own clusters, removed at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import PYINFRA, summary_rows

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

ROOT = Path(__file__).resolve().parents[2]
LEFT_OUT = {".git", ".venv", ".tools", ".sandbox", ".pgconverge", "backups", "reports", "bench", ".pytest_cache",
            ".hypothesis"}  # at the top: what a fresh clone does not have yet


def _left_out(folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n == "__pycache__" or (Path(folder) == ROOT and n in LEFT_OUT)}


@pytest.mark.skipif(os.geteuid() != 0, reason="the case of a root user whose checkout the server user cannot reach")
def test_a_checkout_under_a_private_folder_runs_the_demo_unchanged(tmp_path):
    private = tmp_path / "private"
    private.mkdir()
    os.chmod(private, 0o700)
    checkout = private / "pgconverge"
    shutil.copytree(ROOT, checkout, ignore=_left_out)
    (checkout / ".tools").mkdir()
    for unpacked in (ROOT / ".tools").glob("pg[0-9]*"):  # what make setup unpacks there (PostgreSQL 16, 17)
        os.symlink(unpacked, checkout / ".tools" / unpacked.name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "PYTEST", "SANDBOX"))
           and k not in ("ENV_FILE", "SOURCE_DATABASE_URL", "TARGET_DATABASE_URL", "HEROKU_APP")}
    env.update(SANDBOX_ROWS="50", PYINFRA_PROGRESS="off")

    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(argv, cwd=checkout, env=env, capture_output=True, text=True, timeout=300, check=False)

    try:
        up = run(sys.executable, "-m", "sandbox", "up")
        assert up.returncode == 0, up.stdout + up.stderr
        said = [line for line in up.stdout.splitlines() if line.startswith("the clusters live in ")]
        assert len(said) == 1 and "cannot reach" in said[0], up.stdout
        place = Path(said[0].split()[4].rstrip(":"))
        assert (place / "source" / "data").is_dir() and not (checkout / ".sandbox" / "source").exists()
        assert oct(private.stat().st_mode & 0o777) == "0o700"  # nothing was loosened

        env["ENV_FILE"] = ".sandbox/env"
        for expected in ("changed", "converged"):
            deploy = run(PYINFRA, "-y", "inventory.py", "deploy.py")
            assert deploy.returncode == 0, (deploy.stdout + deploy.stderr)[-3000:]
            assert summary_rows(deploy.stderr)["Migrations applied"][0] == expected
    finally:
        destroyed = run(sys.executable, "-m", "sandbox", "destroy")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert not place.exists() and not (checkout / ".sandbox").exists()
