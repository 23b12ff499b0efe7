"""
Throw-away databases on the sandbox clusters for the benchmarks, how to reach them, and the
sample source database (the chat app's schema plus N generated messages) that the backup and
copy scenarios share.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from dotenv import dotenv_values
from psycopg import sql
from psycopg.conninfo import make_conninfo

import sandbox
from bench.sandbox_env import sandbox_env_file

ROOT = Path(__file__).resolve().parents[1]


def _admin(which: str):
    return psycopg.connect(sandbox.admin_conninfo(which, "postgres"), autocommit=True)


def create(which: str, prefix: str = "bench", owner: str | None = None) -> str:
    """A new empty database on the ``which`` cluster ('source' or 'target'); returns its name."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if owner:
        query = sql.SQL("{} OWNER {}").format(query, sql.Identifier(owner))
    with _admin(which) as conn:
        conn.execute(query)
    return name


def drop(which: str, *names: str) -> None:
    with _admin(which) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def drop_leftovers() -> list[str]:
    """Drop the databases an interrupted benchmark left behind (names start with ``bench_``/``snap_``)."""
    dropped = []
    for which in sandbox.CLUSTERS:
        with _admin(which) as conn:
            names = [r[0] for r in conn.execute(
                r"SELECT datname FROM pg_database WHERE datname ~ '^(bench|snap)_[a-z_]*[0-9a-f]{6,8}$'").fetchall()]
        drop(which, *names)
        dropped += [f"{which}/{name}" for name in names]
    return dropped


def admin_params(which: str, name: str) -> dict[str, str]:
    """The superuser's connection parameters (unix socket) as a dict, e.g. for a service file."""
    return dict(part.split("=", 1) for part in sandbox.admin_conninfo(which, name).split())


def size(which: str, name: str) -> int:
    with psycopg.connect(sandbox.admin_conninfo(which, name)) as conn:
        return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]


@dataclass(frozen=True)
class Target:
    """How the deploy reaches the sandbox target: its owner role, over TCP with SSL and a password.
    Every migration tool in the benchmark (the deploy, psql, the peers) connects this way."""

    host: str
    port: int
    user: str
    password: str
    url: str  # TARGET_DATABASE_URL from .sandbox/env (holds the password: never on a command line)

    @classmethod
    def from_sandbox(cls) -> Target:
        url = dotenv_values(sandbox_env_file())["TARGET_DATABASE_URL"]
        parts = urlsplit(url)
        return cls(parts.hostname, parts.port, parts.username, parts.password, url)

    def url_for(self, dbname: str, scheme: str | None = None) -> str:
        """The target URL pointed at ``dbname`` (optionally with another scheme, e.g. for yoyo)."""
        parts = urlsplit(self.url)
        return urlunsplit((scheme or parts.scheme, parts.netloc, f"/{dbname}", parts.query, ""))

    def url_without_password(self, dbname: str, scheme: str) -> str:
        return f"{scheme}://{self.user}@{self.host}:{self.port}/{dbname}"

    def conninfo(self, dbname: str) -> str:
        """For psycopg in this process (it holds the password; never put it on a command line)."""
        return make_conninfo(host=self.host, port=self.port, user=self.user, password=self.password,
                             dbname=dbname, sslmode="require")

    def libpq_env(self, base: dict, dbname: str) -> dict:
        """``base`` with the PG* variables that point libpq (psql, sqitch) at ``dbname``."""
        env = {k: v for k, v in base.items() if not k.startswith("PG")}
        env.update(PGHOST=self.host, PGPORT=str(self.port), PGUSER=self.user, PGPASSWORD=self.password,
                   PGDATABASE=dbname, PGSSLMODE="require")
        return env

    def count(self, dbname: str, query: str) -> int | None:
        """``query``'s single number in ``dbname``, or None when it fails (e.g. no such table)."""
        try:
            with psycopg.connect(self.conninfo(dbname)) as conn:
                return conn.execute(query).fetchone()[0]
        except psycopg.Error:
            return None


@contextlib.contextmanager
def sample_source(messages: int) -> Iterator[tuple[str, int]]:
    """A database on the source cluster with the chat app's schema and ``messages`` generated
    messages; yields (name, size in bytes) and drops it afterwards."""
    from sandbox import sample_data
    from tasks.migrations.engine import apply_migrations
    from tasks.migrations.files import read_migrations
    from tasks.migrations.session import Limits

    name = create("source", "bench_sample")
    try:
        conninfo = sandbox.admin_conninfo("source", name)
        apply_migrations(conninfo, read_migrations(ROOT / "files" / "migrations"), None, Limits())
        sample_data.generate(conninfo, messages)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        yield name, size("source", name)
    finally:
        drop("source", name)
