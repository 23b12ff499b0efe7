"""
Taking a verified backup with ``pg_dump -Fc`` (and restoring one with ``pg_restore``).

The row counts in the manifest are taken in the very snapshot the dump reads (psycopg exports
it, ``pg_dump --snapshot`` uses it), so a restore can be checked exactly against them. The dump
is written under a temporary name and renamed only after ``pg_restore --list`` read it and its
tables match. Credentials come from the run's service file; nothing secret is on a command line.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Callable

import psycopg
from psycopg import sql

from tasks.core.errors import ActionableError
from tasks.backups import store as backups
from tasks.core.connections import conninfo

PROGRESS_EVERY_S = 3.0
ALL_TABLES = """
SELECT format('%s.%s', n.nspname, c.relname)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_heroku', 'heroku_ext')
   AND n.nspname NOT LIKE 'pg\\_%'
   AND c.oid NOT IN (SELECT objid FROM pg_depend WHERE deptype = 'e')
 ORDER BY 1
"""


class BackupError(ActionableError, RuntimeError):
    """A backup or restore could not be made or verified; the message says what to do."""


def _run(command: list[str], what: str) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise BackupError(f"{command[0]} is not installed: install the PostgreSQL client (postgresql-client)") from None
    if done.returncode != 0:
        first = next((line for line in done.stderr.splitlines() if line.strip()), "failed")
        raise BackupError(f"{what}: {first}")
    return done


def client_major(tool: str = "pg_dump") -> int:
    out = _run([tool, "--version"], f"{tool} --version").stdout
    return int(out.split()[-1].split(".")[0])


def _count_rows(conn: psycopg.Connection, tables: list[str]) -> dict[str, int]:
    counts = {}
    for table in tables:
        schema, _, name = table.partition(".")
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, name))
        counts[table] = conn.execute(query).fetchone()[0]
    return counts


def dump_failure(label: str, first: str) -> str:
    """pg_dump's first error line, with the database it was backing up and what to do."""
    if "permission denied" in first:
        return (f"pg_dump of {label} failed: {first}: its role must read everything it backs up: "
                "GRANT SELECT on it to that role, or use the owner's URL, then run again")
    return f"pg_dump of {label} failed: {first}: fix that, then run again"


def _dump_with_progress(command: list[str], temporary: Path, log: Callable[[str], None], label: str = "the database") -> None:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               stdin=subprocess.DEVNULL)
    started = last = time.monotonic()
    while process.poll() is None:
        time.sleep(0.1)
        if time.monotonic() - last >= PROGRESS_EVERY_S:
            last = time.monotonic()
            size = temporary.stat().st_size if temporary.exists() else 0
            log(f"pg_dump: {size / 1e6:,.0f} MB written in {last - started:.0f}s")
    error = process.stderr.read()
    if process.returncode != 0:
        first = next((line for line in error.splitlines() if line.strip()), "failed")
        raise BackupError(dump_failure(label, first))


def take_backup(service: str, folder: Path, label: str, fingerprint: str | None,
                log: Callable[[str], None]) -> backups.Backup:
    """Dump ``service`` into ``folder``, verify it, write its manifest; return the verified backup."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        backups.remove_temporary_files(folder)
        probe = folder / f".tmp-{os.getpid()}-probe"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise BackupError(f"backup folder {folder} is not writable ({exc.strerror}): fix BACKUP_DIR") from None
    started = time.monotonic()
    with psycopg.connect(conninfo(service), autocommit=False) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        snapshot_id = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        dbname = conn.execute("SELECT current_database()").fetchone()[0]
        server = conn.execute("SHOW server_version").fetchone()[0]
        tables = [row[0] for row in conn.execute(ALL_TABLES).fetchall()]
        final = backups.backup_path(folder, dbname)
        temporary = folder / f".tmp-{os.getpid()}-{final.name}"
        try:
            command = ["pg_dump", "-Fc", "--snapshot", snapshot_id, "-f", str(temporary), "-d", conninfo(service)]
            _dump_with_progress(command, temporary, log, label)
            rows = _count_rows(conn, tables)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    try:
        listed = backups.toc_tables(_run(["pg_restore", "--list", str(temporary)], "pg_restore --list").stdout)
        if sorted(listed) != sorted(tables):
            raise BackupError(
                f"backup of {label} lists {len(listed)} table(s), the database has {len(tables)}: it was discarded; run again"
            )
        digest = backups.sha256_file(temporary)
        temporary.replace(final)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    info = final.stat()
    manifest = {
        "verified": True,
        "database": dbname,
        "label": label,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "server_version": server,
        "pg_dump_version": client_major(),
        "tables": len(tables),
        "rows": rows,
        "size_bytes": info.st_size,
        "mtime_ns": info.st_mtime_ns,
        "duration_s": round(time.monotonic() - started, 3),
        "sha256": digest,
        "fingerprint": fingerprint,
    }
    backups.write_manifest(final, manifest)
    return backups.Backup(final, manifest)


def restore(service: str, dump: Path, log: Callable[[str], None]) -> dict[str, int]:
    """``pg_restore --clean --if-exists --no-owner --no-acl --single-transaction`` into ``service``."""
    _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-acl", "--single-transaction",
          "--exit-on-error", "-d", conninfo(service), str(dump)], f"pg_restore of {dump.name} (nothing was changed)")
    with psycopg.connect(conninfo(service), autocommit=True) as conn:
        tables = [row[0] for row in conn.execute(ALL_TABLES).fetchall()]
        return _count_rows(conn, tables)

