"""
The peers of scenario 2: other migration tools applying the same generated files to a fresh
database on the sandbox target, each through the small adapter it needs. They are installed
project-locally by ``scripts/install-bench-peers``; one that is missing says why instead of
giving a number.

* yoyo-migrations (PyPI): reads a folder of ``.sql`` files as they are, one transaction each.
* dbmate (npm): each file needs ``-- migrate:up`` / ``-- migrate:down`` markers; one
  transaction each.
* sqitch (Debian): a plan file and ``deploy/<change>.sql`` scripts, each wrapped in
  ``BEGIN``/``COMMIT`` (sqitch's own template does the same; a ``;`` before the ``COMMIT`` ends a
  last statement left without one); sqitch runs one psql per change.

Every peer connects like the deploy does (the target's owner role, TCP, SSL, password from the
environment, never on the command line), and after each run the rows of its tracking table are
counted: a run that did not record every file makes the row invalid.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from bench.databases import Target
from bench.timing import HarnessError, run

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / ".tools"
INSTALL = "scripts/install-bench-peers"


class Peer:
    name = ""
    tracking = ""  # SQL counting the applied migrations in the peer's tracking table

    def __init__(self, target: Target, work: Path):
        self.target = target
        self.work = work / self.name

    def executable(self) -> str | None:
        raise NotImplementedError

    def unavailable(self) -> str | None:
        """Why this peer cannot run (not installed, and why), or None."""
        failed = TOOLS / f"{self.name}.failed"
        if self.executable():
            return None
        if failed.exists():
            return f"not installed: {failed.read_text().strip()}"
        return f"not installed (run {INSTALL})"

    def version(self) -> str:
        raise NotImplementedError

    def prepare(self, files: list[tuple[str, str]]) -> None:
        """Write the adapter's copy of ``files`` ([(filename, sql)]) under ``self.work``."""
        raise NotImplementedError

    def apply(self, dbname: str) -> float:
        """Apply every file to ``dbname``; the seconds it took."""
        raise NotImplementedError

    def applied(self, dbname: str) -> int | None:
        return self.target.count(dbname, self.tracking)


class Yoyo(Peer):
    name = "yoyo"
    tracking = "SELECT count(*) FROM _yoyo_migration"

    def executable(self):
        path = TOOLS / "yoyo" / "bin" / "yoyo"
        return str(path) if path.exists() else None

    def version(self):
        python = TOOLS / "yoyo" / "bin" / "python"
        code = "import importlib.metadata as m; print(m.version('yoyo-migrations'))"
        done = subprocess.run([str(python), "-c", code],
                              capture_output=True, text=True, check=False)
        return done.stdout.strip() or "?"

    def prepare(self, files):
        self.work.mkdir(parents=True, exist_ok=True)
        for filename, text in files:
            (self.work / filename).write_text(text)

    def apply(self, dbname):
        url = self.target.url_without_password(dbname, "postgresql+psycopg") + "?sslmode=require"
        env = self.target.libpq_env(os.environ, dbname)
        return run([self.executable(), "apply", "--batch", "--no-config-file", "--database", url, str(self.work)],
                   env=env, cwd=self.work, what="yoyo apply")


class Dbmate(Peer):
    name = "dbmate"
    tracking = "SELECT count(*) FROM schema_migrations"

    def executable(self):
        path = TOOLS / "dbmate" / "node_modules" / ".bin" / "dbmate"
        return str(path) if path.exists() else None

    def version(self):
        done = subprocess.run([self.executable(), "--version"], capture_output=True, text=True, check=False)
        return done.stdout.strip().split()[-1] if done.stdout.strip() else "?"

    def prepare(self, files):
        self.work.mkdir(parents=True, exist_ok=True)
        for filename, text in files:
            (self.work / filename).write_text(f"-- migrate:up\n{text}\n-- migrate:down\n")

    def apply(self, dbname):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["DATABASE_URL"] = self.target.url_for(dbname)  # the environment, not the command line
        return run([self.executable(), "--migrations-dir", str(self.work), "--no-dump-schema", "migrate"],
                   env=env, cwd=self.work, what="dbmate migrate")


class Sqitch(Peer):
    name = "sqitch"
    tracking = "SELECT count(*) FROM sqitch.changes"

    def executable(self):
        return shutil.which("sqitch") if self._has_driver() else None

    @staticmethod
    def _has_driver() -> bool:
        return subprocess.run(["perl", "-MDBD::Pg", "-e1"], capture_output=True, check=False).returncode == 0

    def unavailable(self):
        if shutil.which("sqitch") and not self._has_driver():
            return f"sqitch is installed without DBD::Pg (run {INSTALL})"
        return super().unavailable()

    def version(self):
        done = subprocess.run(["sqitch", "--version"], capture_output=True, text=True, check=False)
        return done.stdout.strip().split()[-1].lstrip("v") if done.stdout.strip() else "?"

    def prepare(self, files):
        deploy = self.work / "deploy"
        deploy.mkdir(parents=True, exist_ok=True)
        (self.work / "sqitch.conf").write_text("[core]\n\tengine = pg\n\tplan_file = sqitch.plan\n\ttop_dir = .\n")
        plan = ["%syntax-version=1.0.0", "%project=pgconverge_bench", ""]
        for filename, text in files:
            change = filename.removesuffix(".sql")
            # The ";" ends a last statement the file left unterminated (psql runs it at the end of a
            # file on its own, but here COMMIT follows: Lemmy's 20250307094522 ends with "END\n$$").
            (deploy / filename).write_text(f"BEGIN;\n{text}\n;\nCOMMIT;\n")
            plan.append(f"{change} 2026-01-01T00:00:00Z pgconverge bench <bench@example.invalid> # {filename}")
        (self.work / "sqitch.plan").write_text("\n".join(plan) + "\n")

    def apply(self, dbname):
        env = self.target.libpq_env(os.environ, dbname)
        env.update(SQITCH_FULLNAME="pgconverge bench", SQITCH_EMAIL="bench@example.invalid",
                   SQITCH_USER_CONFIG=os.devnull, SQITCH_SYSTEM_CONFIG=os.devnull)
        target = self.target.url_without_password(dbname, "db:pg")
        return run(["sqitch", "--chdir", str(self.work), "deploy", "--target", target],
                   env=env, cwd=self.work, what="sqitch deploy")


ALL = (Yoyo, Dbmate, Sqitch)


def check_applied(peer: Peer, dbname: str, expected: int) -> None:
    got = peer.applied(dbname)
    if got != expected:
        raise HarnessError(f"{peer.name} recorded {got} of {expected} migrations in its tracking table")
