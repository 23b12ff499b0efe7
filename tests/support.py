"""
Helpers for tests against the sandbox's real PostgreSQL clusters (no mocks).

Each test gets its own empty database on the sandbox *target* cluster (owned by the non-superuser
owner role, reached over SSL with a password, like Heroku) and its own STATE_DIR, and runs the
real ``pyinfra`` CLI as a subprocess.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from dotenv import dotenv_values
from psycopg import sql

import sandbox
from tests import cli_fork

ROOT = Path(__file__).resolve().parents[1]
PYINFRA = str(Path(sys.executable).with_name("pyinfra"))
MIGRATIONS = ROOT / "files" / "migrations"
SEEDS = ROOT / "files" / "seed"


def sandbox_urls() -> dict[str, str]:
    values = dotenv_values(sandbox.ENV_FILE)  # this worker's clusters (tests/conftest.py)
    return {"source": values["SOURCE_DATABASE_URL"], "target": values["TARGET_DATABASE_URL"]}


def with_dbname(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{dbname}"))


def admin(which: str = "target", dbname: str | None = None) -> psycopg.Connection:
    return psycopg.connect(sandbox.admin_conninfo(which, dbname), autocommit=True)


def create_target_db() -> str:
    name = f"t_{secrets.token_hex(5)}"
    with admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER whynot_owner").format(sql.Identifier(name)))
    return name


def drop_db(name: str, which: str = "target") -> None:
    with admin(which) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def query(dbname: str, text: str, params=None, which: str = "target") -> list[tuple]:
    with admin(which, dbname) as conn:
        cur = conn.execute(text, params)
        return cur.fetchall() if cur.description else []


class Project:
    """A deploy's inputs for one test: a target database, a migrations folder, a state folder."""

    def __init__(self, tmp_path: Path, target_db: str, migrations: Path = MIGRATIONS, seeds: Path | None = SEEDS):
        self.tmp = tmp_path
        self.target_db = target_db
        self.migrations = tmp_path / "migrations"
        shutil.copytree(migrations, self.migrations)
        self.seeds = seeds if seeds is not None else tmp_path / "no-seed"
        self.state = tmp_path / "state"
        self.env_file = tmp_path / "empty.env"
        self.env_file.write_text("")
        urls = sandbox_urls()
        self.source_url = urls["source"]
        self.target_url = with_dbname(urls["target"], target_db)
        self.extra: dict[str, str] = {}

    def env(self, **extra: str) -> dict[str, str]:
        if self.seeds.parent == self.tmp:
            self.seeds.mkdir(exist_ok=True)  # "no seeds" is an empty folder: a SEED_DIR that is missing is refused
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "PYTEST"))}
        env.update(
            ENV_FILE=str(self.env_file),
            SOURCE_DATABASE_URL=self.source_url,
            TARGET_DATABASE_URL=self.target_url,
            MIGRATIONS_DIR=str(self.migrations),
            SEED_DIR=str(self.seeds),
            STATE_DIR=str(self.state),
            BACKUP_DIR=str(self.tmp / "backups"),
            REPORT_DIR=str(self.tmp / "reports"),  # never the checkout's reports/, shared by parallel workers
            PLANS_DIR=str(self.tmp / "plans"),  # a run that applies migrations writes its plan record there
            PYINFRA_PROGRESS="off",
        )
        env.pop("HEROKU_APP", None)
        env.update(self.extra)
        env.update(extra)
        return env

    def command(self, *args: str, deploy_file: str = "deploy.py") -> list[str]:
        return [PYINFRA, "-y", *args, "inventory.py", deploy_file]

    def restore(self, *data: str, **extra: str) -> Result:
        """``pyinfra -y inventory.py restore.py --data k=v ...``"""
        return self.run_file("restore.py", *data, **extra)

    def run_file(self, deploy_file: str, *data: str, **extra: str) -> Result:
        """``pyinfra -y inventory.py DEPLOY_FILE --data k=v ...`` (restore.py, reset.py)"""
        args = [arg for item in data for arg in ("--data", item)]
        done = cli_fork.run(self.command("--json", *args, deploy_file=deploy_file), cwd=ROOT, env=self.env(**extra),
                            timeout=180)
        return Result(done.returncode, done.stdout, done.stderr, 0, "--debug" in args)

    def start(self, *args: str, **extra: str) -> subprocess.Popen:
        return Started(
            self.command(*args), cwd=ROOT, env=self.env(**extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True,
        )

    def deploy(self, *args: str, timeout: float = 180, **extra: str) -> Result:
        started = time.monotonic()
        done = cli_fork.run(self.command("--json", *args), cwd=ROOT, env=self.env(**extra), timeout=timeout)
        return Result(done.returncode, done.stdout, done.stderr, time.monotonic() - started, "--debug" in args)

    def dry(self, *args: str, **extra: str) -> Result:
        done = cli_fork.run([PYINFRA, "--dry", *args, "inventory.py", "deploy.py"], cwd=ROOT, env=self.env(**extra),
                            timeout=180)
        return Result(done.returncode, done.stdout, done.stderr, 0, "--debug" in args)

    def write_migration(self, name: str, text: str) -> Path:
        path = self.migrations / name
        path.write_text(text)
        return path

    def applied_versions(self) -> list[int]:
        rows = query(self.target_db, "SELECT to_regclass('public.schema_migrations') IS NOT NULL")
        if not rows[0][0]:
            return []
        return [r[0] for r in query(self.target_db, "SELECT version FROM schema_migrations ORDER BY version")]

    def tables(self) -> list[str]:
        return [
            r[0]
            for r in query(
                self.target_db,
                "SELECT tablename FROM pg_tables"
                " WHERE schemaname = 'public' AND tablename <> 'schema_migrations' ORDER BY 1",
            )
        ]


# Every deploy output captured here, with whether its command asked for --debug: the session checks
# that none holds a Python traceback otherwise (tests/conftest.py).
OUTPUTS: list[tuple[bool, str]] = []


class Started(subprocess.Popen):
    """A deploy started in the background; what ``communicate`` returns is kept in OUTPUTS too."""

    def communicate(self, *args, **kwargs):
        out, err = super().communicate(*args, **kwargs)
        OUTPUTS.append(("--debug" in self.args, (out or "") + (err or "")))
        return out, err


class Result:
    def __init__(self, code: int, stdout: str, stderr: str, seconds: float, debug: bool = False):
        self.code, self.stdout, self.stderr, self.seconds = code, stdout, stderr, seconds
        OUTPUTS.append((debug, stdout + stderr))
        self.json = None
        if stdout.strip().startswith("{"):
            self.json = json.loads(stdout)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def operations(self) -> dict[str, str]:
        """``{operation name: "success" | "no_change" | "error"}`` from ``--json``."""
        assert self.json and self.json.get("results"), self.output[-3000:]
        found = {}
        for op in self.json["results"]["operations"]:
            for outcome in ("error", "success", "no_change"):
                if op.get(outcome):
                    found[op["name"]] = outcome
                    break
        return found

    def changed(self) -> list[str]:
        return [name for name, outcome in self.operations().items() if outcome == "success"]


def report_rows(report_dir: Path) -> dict[str, tuple[str, str]]:
    """The last run's summary rows from its structured record (REPORT_DIR/latest-run.json):
    ``{state: (status, detail)}``. Tests assert on these, not on the printed wording."""
    document = json.loads((Path(report_dir) / "latest-run.json").read_text())
    return {row["state"]: (row["status"], row["detail"]) for row in document["states"]}


def summary_rows(output: str) -> dict[str, tuple[str, str]]:
    """The final summary's rows: ``{state: (status, detail)}``."""
    lines = output.split("summary:\n", 1)[1].split("\nhealth:", 1)[0].splitlines()
    rows = {}
    for line in lines:
        if not line.startswith("  "):
            break
        name, rest = line[2:].split("  ", 1)
        status, _, detail = rest.strip().partition("  ")
        rows[name.strip()] = (status.strip(), detail.strip())
    return rows


def catalog_and_data(dbname: str) -> tuple:
    """A before/after fingerprint of a target database: its catalog snapshot and every table's rows."""
    from tasks.schema import catalog

    with admin("target", dbname) as conn:
        snap = catalog.snapshot(conn)
        data = {}
        for (table,) in conn.execute(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
        ).fetchall():
            data[table] = conn.execute(
                f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t"
            ).fetchone()[0]
    return json.dumps(snap, sort_keys=True), data


def table_fingerprints(dbname: str, which: str) -> dict[str, tuple]:
    """Per public table (schema_migrations aside): (row count, md5 of all rows in order)."""
    rows = {}
    for (table,) in query(
        dbname,
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations' ORDER BY 1",
        which=which,
    ):
        rows[table] = query(
            dbname,
            f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t",
            which=which,
        )[0]
    return rows


def tmpfs(folder: Path, options: str) -> Path:
    """Mount a tmpfs with ``options`` (``size=4k``, ``size=64k,ro``) on a new ``folder``: a full or
    read-only disk; root only (the test is skipped otherwise). The caller unmounts it."""
    import pytest

    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    folder.mkdir()
    # mode=0700: a tmpfs is 1777 by default, which REPORT_DIR refuses as a shared folder
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"{options},mode=0700", "tmpfs", str(folder)], check=True)
    return folder


def wait_for_query(dbname: str, like: str, process, timeout: float = 120) -> None:
    """Wait until a session of the target database runs a query matching ``like`` (SQL LIKE),
    while the deploy ``process`` is still alive."""
    deadline = time.monotonic() + timeout
    sql_text = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND query LIKE %s"
    while query("postgres", sql_text, (dbname, like))[0][0] == 0:
        assert process.poll() is None and time.monotonic() < deadline, f"no query like {like!r} started"
        time.sleep(0.02)
