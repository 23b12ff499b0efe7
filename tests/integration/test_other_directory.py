"""
pgconverge run from another directory (``cd /tmp && pyinfra /path/inventory.py /path/deploy.py``)
finds its own modules: no ModuleNotFoundError traceback. Real sandbox clusters, real pyinfra CLI.
"""

import subprocess

import pytest

from tests.support import PYINFRA, ROOT, Result

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters


def test_a_dry_run_from_another_directory_finds_the_project_modules(project, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run([PYINFRA, "--dry", str(ROOT / "inventory.py"), str(ROOT / "deploy.py")], cwd=elsewhere,
                          env=project.env(), capture_output=True, text=True, timeout=180, check=False)
    result = Result(done.returncode, done.stdout, done.stderr, 0)
    assert "ModuleNotFoundError" not in result.output and "Traceback" not in result.output, result.output[-2500:]
    assert result.code == 0, result.output[-2500:]
    assert "Migrations applied" in result.output
