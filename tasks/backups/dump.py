"""
Taking a verified backup with ``pg_dump -Fc`` (restoring one: :mod:`tasks.backups.restore`).

The row counts and the catalog in the manifest are read in the very snapshot the dump reads
(psycopg exports it, ``pg_dump --snapshot`` uses it), so a restore can be checked exactly against
them. The dump is written under a temporary name (0600); after ``pg_restore --list`` read it and
its tables match, the manifest is written and only then the dump renamed to its final name.
Credentials come from the run's service file; nothing secret is on a command line.
``pg_dump``/``pg_restore`` are the oldest installed ones at least as new as the server
(:mod:`tasks.core.pgtools`).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg import sql

from tasks.backups import pruning
from tasks.backups import store as backups
from tasks.core import pgtools, waits
from tasks.core.connections import conninfo
from tasks.core.environment import child_env
from tasks.core.errors import ActionableError
from tasks.core.identity import SYSTEM_SQL, server_key
from tasks.core.private import FILE_MODE, private_dir
from tasks.core.rows import scalar
from tasks.schema import catalog

PROGRESS_EVERY_S = 3.0
TABLES_FROM = """
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_heroku', 'heroku_ext')
   AND n.nspname NOT LIKE 'pg\\_%'
   AND c.oid NOT IN (SELECT objid FROM pg_depend WHERE deptype = 'e')
"""
ALL_TABLES = (
    "SELECT n.nspname, c.relname, pg_get_userbyid(c.relowner), format('%I.%I', n.nspname, c.relname)"
    + TABLES_FROM
    + " ORDER BY 4"
)


class BackupError(ActionableError, RuntimeError):
    """A backup or restore could not be made or verified; the message says what to do."""


def run_tool(command: list[str], what: str) -> subprocess.CompletedProcess:
    """Run a PostgreSQL client tool; its first error line becomes a :class:`BackupError`."""
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            stdin=subprocess.DEVNULL,
            env=child_env(),
            check=False,
        )
    except FileNotFoundError:
        raise BackupError(f"{command[0]} is not installed: install the PostgreSQL client (postgresql-client)") from None
    if done.returncode != 0:
        first = next((line for line in done.stderr.splitlines() if line.strip()), "failed")
        raise BackupError(f"{what}: {first}")
    return done


def tools_for(conn: psycopg.Connection, label: str) -> pgtools.ToolSet:
    """The pg_dump/pg_restore for this connection's server."""
    try:
        return pgtools.for_server(label, conn.info.server_version // 10000)
    except pgtools.ToolError as exc:
        raise BackupError(str(exc)) from None


def _count_rows(conn: psycopg.Connection, tables: list[tuple]) -> dict[str, int]:
    """``{"public.users": 50, 'public."audit log"': 3}``: keys are quoted where SQL needs it."""
    counts = {}
    for schema, name, _, key in tables:
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, name))
        counts[key] = scalar(conn.execute(query))
    return counts


DUMP_LOCK_WAIT = "30s"  # pg_dump's wait for a table's lock: an exclusive holder fails the backup, never stalls it
LOST = (
    "server closed the connection unexpectedly",
    "terminating connection",
    "could not receive data from server",
    "connection to server",
    "the database system is shutting down",
    "the database system is starting up",
    "no connection to the server",
    "SSL SYSCALL error",
)


def dump_failure(label: str, first: str, error: str = "", folder: Path | None = None) -> str:
    """pg_dump's first error line, with the database it was backing up and what to do (the whole of
    pg_dump's ``error`` text tells a lost connection or a full disk from a fault of the database)."""
    text = error or first
    if "could not obtain lock on relation" in text:
        return (
            f"pg_dump of {label} failed: {first}: another session held a table exclusively for more than "
            f"{DUMP_LOCK_WAIT} (a migration or a maintenance command: see pg_stat_activity): run again when it "
            "is done; the partial backup was discarded"
        )
    if "No space left on device" in text or "Disk quota exceeded" in text:
        place = f"the backup folder {folder}" if folder else "the backup folder"
        return (
            f"pg_dump of {label} failed: {first}: the disk of {place} is full: free space there (or point "
            "BACKUP_DIR at a disk with room), then run again; the partial backup was discarded"
        )
    if "too many connections" in first or "connection slots are reserved" in first:
        return (
            f"pg_dump of {label} failed: {first}: a verified backup needs two connections at once (one "
            "holds the snapshot pg_dump reads, so its row counts are the dump's): allow the role two "
            "(ALTER ROLE ... CONNECTION LIMIT 2) or close other sessions, then run again"
        )
    if any(sign in text for sign in LOST):
        return (
            f"pg_dump of {label} failed: the connection to the server was lost during the dump (the server "
            f"restarted, or ended the session): {first}: the partial backup was discarded; run again once "
            "the server is up"
        )
    if "permission denied" in first:
        return (
            f"pg_dump of {label} failed: {first}: its role must read everything it backs up: "
            "GRANT SELECT on it to that role, or use the owner's URL, then run again"
        )
    return f"pg_dump of {label} failed: {first}: fix that, then run again"


def _dump_with_progress(
    command: list[str], temporary: Path, log: Callable[[str], None], label: str = "the database"
) -> None:
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, env=child_env()
    )
    started = last = time.monotonic()
    while process.poll() is None:
        time.sleep(0.1)
        if time.monotonic() - last >= PROGRESS_EVERY_S:
            last = time.monotonic()
            size = temporary.stat().st_size if temporary.exists() else 0
            log(f"pg_dump: {size / 1e6:,.0f} MB written in {last - started:.0f}s")
    error = process.stderr.read() if process.stderr else ""
    if process.returncode != 0:
        first = next((line for line in error.splitlines() if line.strip()), "failed")
        raise BackupError(dump_failure(label, first, error, temporary.parent))


def _server_key(conn: psycopg.Connection, dbname: str) -> str | None:
    """The identity key of the connected database (None: the role may not call pg_control_system())."""
    oid = scalar(conn.execute("SELECT oid::bigint FROM pg_database WHERE datname = current_database()"))
    try:
        with conn.transaction():  # a savepoint: a refused call leaves the snapshot's transaction usable
            system = scalar(conn.execute(SYSTEM_SQL))
    except psycopg.Error:
        return None
    return server_key(system, oid, dbname)


def database_state(service: str, conn: psycopg.Connection | None = None) -> dict:
    """The database, its server version, catalog and every table's exact row count, read in one
    snapshot: what a manifest records so that a restore can be checked against it. ``conn``: a
    connection already in the snapshot to read (else one is opened)."""
    if conn is None:
        with psycopg.connect(conninfo(service), autocommit=False) as own:
            own.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            own.execute(waits.NO_STATEMENT_TIMEOUT)  # every table's count(*): not a role's statement_timeout
            return database_state(service, own)
    tables = conn.execute(ALL_TABLES).fetchall()
    dbname = scalar(conn.execute("SELECT current_database()"))
    return {
        "database": dbname,
        "identity": _server_key(conn, dbname),
        "server_version": scalar(conn.execute("SHOW server_version")),
        "tables": len(tables),
        "rows": _count_rows(conn, tables),
        "catalog": catalog.snapshot(conn),
    }


def prepare_folder(folder: Path) -> None:
    """Make the backup folder (0700, its parent too), clear what killed runs left half-written, and
    check that it takes a file: a BackupError naming BACKUP_DIR when it does not."""
    try:
        private_dir(folder.parent)
        private_dir(folder)
        pruning.remove_temporary_files(folder)
        probe = folder / f".tmp-{os.getpid()}-probe"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise BackupError(f"backup folder {folder} is not writable ({exc.strerror}): fix BACKUP_DIR") from None


def take_backup(
    service: str,
    folder: Path,
    label: str,
    fingerprint: str | None,
    log: Callable[[str], None],
    snapshot: str | None = None,
    purpose: str | None = None,
) -> backups.Backup:
    """
    Dump ``service`` into ``folder``, verify it, write its manifest, then give it its final name;
    return the verified backup. The folder's lock is held shared throughout (see :mod:`store`).
    ``snapshot``: a snapshot another transaction exported (``pg_export_snapshot()``, held open by it),
    dumped instead of a new one: a restore's own transaction, once it holds the tables it replaces.
    ``purpose``: why it was taken (``before a COPY_CONFLICT=replace``), in the manifest's ``taken``
    field and the listing; never part of its identity.
    """
    folder = Path(folder)
    prepare_folder(folder)
    try:
        with pruning.writing(folder, log):
            return _dump_verified(service, folder, label, fingerprint, log, snapshot, purpose)
    except pruning.FolderLocked as exc:
        raise BackupError(str(exc)) from None


def _dump_verified(
    service: str,
    folder: Path,
    label: str,
    fingerprint: str | None,
    log: Callable[[str], None],
    snapshot: str | None = None,
    purpose: str | None = None,
) -> backups.Backup:
    started = time.monotonic()
    with psycopg.connect(conninfo(service), autocommit=False) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        # The snapshot holder idles while pg_dump runs: a role's idle_in_transaction_session_timeout
        # must not end it (and the backup) under pg_dump.
        conn.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
        conn.execute("SET LOCAL statement_timeout = 0")
        if snapshot is not None:
            conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
            snapshot_id = snapshot
        else:
            snapshot_id = scalar(conn.execute("SELECT pg_export_snapshot()"))
        dbname = scalar(conn.execute("SELECT current_database()"))
        server_ident = _server_key(conn, dbname)
        server = scalar(conn.execute("SHOW server_version"))
        tools = tools_for(conn, label)
        tables = conn.execute(ALL_TABLES).fetchall()
        shape = catalog.snapshot(conn)
        final = backups.backup_path(folder, dbname)
        temporary = folder / f".tmp-{os.getpid()}-{final.name}"
        try:
            command = [
                tools.binary("pg_dump"),
                "-Fc",
                "--snapshot",
                snapshot_id,
                f"--lock-wait-timeout={DUMP_LOCK_WAIT}",
                "-f",
                str(temporary),
                "-d",
                conninfo(service),
            ]
            _dump_with_progress(command, temporary, log, label)
            rows = _count_rows(conn, tables)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    try:
        os.chmod(temporary, FILE_MODE)
        listing = run_tool([tools.binary("pg_restore"), "--list", str(temporary)], "pg_restore --list")
        listed = backups.toc_tables(listing.stdout)
        wanted = [backups.toc_entry(schema, name, owner) for schema, name, owner, _ in tables]
        if sorted(listed) != sorted(wanted):
            missing = sorted(set(wanted) - set(listed))[:3]
            raise BackupError(
                f"backup of {label} lists {len(listed)} table(s), the database has {len(tables)}"
                + (f" (not in the dump: {', '.join(missing)})" if missing else "")
                + ": it was discarded; run again"
            )
        digest = backups.sha256_file(temporary)
        info = temporary.stat()
        manifest = {
            "tool": backups.TOOL,
            "verified": True,
            "database": dbname,
            "label": label,
            "identity": backups.identity(label, dbname, server_ident),
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "server_version": server,
            "pg_dump_version": tools.major,
            "tables": len(tables),
            "rows": rows,
            "catalog": shape,
            "size_bytes": info.st_size,
            "mtime_ns": info.st_mtime_ns,
            "duration_s": round(time.monotonic() - started, 3),
            "sha256": digest,
            "fingerprint": fingerprint,
        }
        if purpose:
            manifest["taken"] = purpose
        # The manifest first, then the final name: a dump under its final name always has one.
        backups.write_manifest(final, manifest)
        temporary.replace(final)
    except BaseException:
        temporary.unlink(missing_ok=True)
        if not final.exists():
            backups.manifest_path(final).unlink(missing_ok=True)
        raise
    return backups.Backup(final, manifest)
