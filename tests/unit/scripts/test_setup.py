"""
``make setup`` installs the Heroku CLI only for a Heroku target (HEROKU_APP in the environment, in
.env or in ENV_FILE), and says what it installs and why. Run on a copy of ``scripts/`` with a
stand-in ``npm`` on PATH that records its calls (the registry is not what is tested here).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

FAKE_NPM = """#!/bin/sh
echo "$@" >> "$NPM_CALLS"
prefix=$3
mkdir -p "$prefix/node_modules/heroku" "$prefix/node_modules/.bin"
printf '{"version": "11.10.0"}' > "$prefix/node_modules/heroku/package.json"
printf '#!/bin/sh\\nexit 0\\n' > "$prefix/node_modules/.bin/heroku"
chmod +x "$prefix/node_modules/.bin/heroku"
"""


def _project(tmp_path: Path) -> tuple[Path, dict]:
    project = tmp_path / "checkout"
    shutil.copytree(ROOT / "scripts", project / "scripts")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "npm").write_text(FAKE_NPM)
    (bin_dir / "npm").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("HEROKU_APP", "ENV_FILE")}
    env.update(PATH=f"{bin_dir}:{env['PATH']}", NPM_CALLS=str(tmp_path / "npm-calls"))
    return project, env


def _setup(project: Path, env: dict) -> str:
    done = subprocess.run([str(project / "scripts" / "install-heroku-cli"), "--if-needed"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_plain_target_gets_no_heroku_cli_and_is_told_why(tmp_path):
    project, env = _project(tmp_path)
    (project / ".env").write_text("TARGET_DATABASE_URL=postgres://u:p@db.example.com/app\n# HEROKU_APP=my-app\n")
    said = _setup(project, env)
    assert not (tmp_path / "npm-calls").exists() and not (project / ".tools").exists()
    assert "Heroku CLI not needed" in said and "plain Postgres URL" in said and "make heroku-cli" in said


def test_a_heroku_target_gets_the_pinned_cli_once(tmp_path):
    project, env = _project(tmp_path)
    (project / ".env").write_text("HEROKU_APP=my-app\n")
    said = _setup(project, env)
    assert "installing the Heroku CLI 11.10.0 into .tools/heroku" in said and "HEROKU_APP is set in .env" in said
    assert (tmp_path / "npm-calls").read_text().count("heroku@11.10.0") == 1
    again = _setup(project, env)
    assert "present" in again and (tmp_path / "npm-calls").read_text().count("heroku@11.10.0") == 1


def test_heroku_app_in_the_environment_or_env_file_counts(tmp_path):
    project, env = _project(tmp_path)
    other = tmp_path / "prod.env"
    other.write_text("export HEROKU_APP = my-app\n")
    assert "HEROKU_APP is set in " + str(other) in _setup(project, {**env, "ENV_FILE": str(other)})
    shutil.rmtree(project / ".tools")
    assert "HEROKU_APP is set in the environment" in _setup(project, {**env, "HEROKU_APP": "my-app"})
