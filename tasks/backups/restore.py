"""
Restoring a verified backup so that the target holds exactly what the backup holds.

Before the target is touched, the dump's sha256 must equal its manifest's. Then one psql session
runs, in ONE transaction: a DROP of every object the role owns (what was created after the backup
goes too), the ``pg_restore --no-owner --no-acl`` script of the dump, and a check that reads the
restored catalog (:mod:`tasks.schema.catalog`) and every table's row count and compares them with
the manifest's. Only when both are equal does the session COMMIT; otherwise it rolls back, and the
error lists what differs. A killed run or a lost connection rolls back too: all or nothing.

The backup of a target that held nothing (:mod:`tasks.backups.empty`: a manifest, no dump) is
restored the same way with nothing in between: the DROP, then the check against its empty catalog.

The SQL travels on psql's stdin; the dump's rows travel inside pg_restore's COPY blocks (as data,
escaped by pg_dump); the connection is ``service=target`` (no secret on any command line).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.backups import dump as dump_module
from tasks.backups import store
from tasks.backups.dump import TABLES_FROM, BackupError
from tasks.core import pgtools, waits
from tasks.core.connections import conninfo
from tasks.core.environment import child_env
from tasks.schema import catalog

DROP_OWNED_SQL = (Path(__file__).with_name("drop_owned.sql")).read_text().strip().rstrip(";")
ROW_COUNTS_SQL = (
    "SELECT coalesce(jsonb_object_agg(format('%I.%I', n.nspname, c.relname), (xpath('/row/n/text()', query_to_xml("
    "format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::bigint), "
    "'{}'::jsonb)::text AS pgc_rows " + TABLES_FROM
)
LOCK_OWNED_SQL = (
    "SELECT 'LOCK TABLE ' || string_agg(format('%I.%I', n.nspname, c.relname), ', ' ORDER BY n.nspname, c.relname) "
    "|| ' IN SHARE MODE' FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) AND c.relkind IN ('r', 'p') "
    "AND NOT c.relispartition AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND c.oid NOT IN (SELECT objid FROM pg_depend WHERE deptype = 'e') HAVING count(*) > 0"
)
MARK = "pgconverge-restore"
CHUNK = 1 << 20


@dataclass(frozen=True)
class Outcome:
    """What the target holds after the restore's check; ``committed`` only when it equals the manifest."""

    committed: bool
    catalog: dict[str, Any]
    rows: dict[str, int]


def verified_manifest(dump: Path) -> dict[str, Any]:
    """The manifest of ``dump`` once its sha256 and size are checked; a BackupError saying why not."""
    manifest = store.read_manifest(dump)
    if (
        manifest is not None
        and store.is_empty_backup(manifest)
        and store.check_file(store.manifest_path(dump), manifest) is None
    ):
        return manifest  # the manifest is the whole backup: read and well-formed is verified
    if manifest is None or not store.is_own_manifest(manifest):
        raise BackupError(
            f"{dump} has no readable pgconverge manifest ({store.manifest_path(dump).name}): "
            "only verified backups restore; pick one that has its .json beside it"
        )
    if not dump.is_file():
        raise BackupError(f"{dump} does not exist: pick a backup listed in {dump.parent}/")
    problem = store.check_file(dump, manifest)
    if problem:
        raise BackupError(
            f"{dump} is not the file its manifest describes ({problem}): nothing was restored; pick another backup"
        )
    if not isinstance(manifest.get("rows"), dict):
        raise BackupError(f"{store.manifest_path(dump)} lists no row counts: nothing was restored; pick another backup")
    return manifest


def plan_lines(manifest: dict[str, Any], current: dict[str, Any] | None) -> list[str]:
    """What the restore will do, for the dry run: objects dropped, restored, changed; rows replaced."""
    rows = manifest["rows"]
    if store.is_empty_backup(manifest):
        lines = ["the backup records an empty target: drop what the role owns, bring nothing back"]
    else:
        lines = [f"replace every table's rows with the backup's: {len(rows)} table(s), {sum(rows.values()):,} row(s)"]
    if current is None or not manifest.get("catalog"):
        return lines + ["(the target's catalog was not compared with the backup's)"]
    verbs = {
        "+": "drop (created after the backup)",
        "-": "restore (dropped since the backup)",
        "~": "return to the backup's definition",
    }
    differences = catalog.differences(manifest["catalog"], current)
    for difference in differences:
        lines.append(f"{verbs[difference.sign]}: {difference.text[2:]}")
    if not differences and store.is_empty_backup(manifest):
        lines.append("nothing to drop: the target's catalog is already the backup's")
    return lines


def mismatches(manifest: dict[str, Any], outcome: Outcome) -> list[str]:
    """How the restored target differs from the manifest (catalog first, then row counts)."""
    found = []
    if manifest.get("catalog") is not None:
        found += catalog.diff(manifest["catalog"], outcome.catalog)
    wanted = manifest["rows"]
    for table in sorted(set(wanted) | set(outcome.rows)):
        if wanted.get(table) != outcome.rows.get(table):
            found.append(f"{table}: {wanted.get(table)} row(s) in the backup, {outcome.rows.get(table)} restored")
    return found


def _literal(text: str) -> str:
    """``text`` as a dollar-quoted SQL literal whose tag does not occur in it."""
    while True:
        tag = f"$pgc_{secrets.token_hex(6)}$"
        if tag not in text:
            return f"{tag}{text}{tag}"


def script_head() -> str:
    """BEGIN, every lock wait bounded (an application's open transaction makes the LOCK time out and the
    restore is tried again, see :mod:`tasks.core.waits`), no statement_timeout nor idle timeout of the
    role's (the session idles while the undo backup is dumped), every table the role owns locked
    against writes (the undo backup and the replacement see the same rows)."""
    return (
        f"\\set ON_ERROR_STOP 1\nBEGIN;\n{waits.SET_LOCK_TIMEOUT};\n{waits.NO_STATEMENT_TIMEOUT};\n"
        "SET LOCAL idle_in_transaction_session_timeout = 0;\n"
        f"{LOCK_OWNED_SQL}\n\\gexec\n"
    )


def script_drop() -> str:
    """The DROP of every object the role owns (what was created after the backup goes too)."""
    return f"{DROP_OWNED_SQL}\n\\gexec\n"


def script_tail(manifest: dict[str, Any]) -> str:
    """Read what was restored, print it, COMMIT only when it equals the manifest."""
    snapshot_sql = catalog.SNAPSHOT_SQL.strip().rstrip(";")
    want_catalog = manifest.get("catalog")
    same_catalog = (
        "true" if want_catalog is None else f":'pgc_catalog'::jsonb = {_literal(json.dumps(want_catalog))}::jsonb"
    )
    return (
        "\n\\set ON_ERROR_STOP 1\n"
        "SET search_path = pg_catalog, public;\n"
        f"SELECT snapshot AS pgc_catalog FROM ({snapshot_sql}) AS s(snapshot) \\gset\n"
        f"{ROW_COUNTS_SQL} \\gset\n"
        f"SELECT '{MARK}-state', :'pgc_catalog', :'pgc_rows';\n"
        f"SELECT {same_catalog} AND :'pgc_rows'::jsonb = {_literal(json.dumps(manifest['rows']))}::jsonb "
        "AS pgc_ok \\gset\n"
        "\\if :pgc_ok\n"
        "COMMIT;\n"
        f"SELECT '{MARK}-committed';\n"
        "\\else\n"
        "ROLLBACK;\n"
        f"SELECT '{MARK}-rolled-back';\n"
        "\\endif\n"
    )


def restore_tools(service: str, manifest: dict[str, Any]) -> pgtools.ToolSet:
    """The pg_restore for this target: at least as new as its server and as the dump's pg_dump."""
    import psycopg

    with psycopg.connect(conninfo(service)) as conn:
        server = conn.info.server_version // 10000
    try:
        return pgtools.for_server(f"service {service}", max(server, int(manifest.get("pg_dump_version") or 0)))
    except pgtools.ToolError as exc:
        raise BackupError(str(exc)) from None


def restore_list(dump: Path, pg_restore: str = "pg_restore") -> str:
    """The dump's table of contents without ``COMMENT - EXTENSION`` entries (not the role's to change)."""
    listed = dump_module.run_tool([pg_restore, "--list", str(dump)], f"pg_restore --list {dump.name}").stdout
    return "\n".join(line for line in listed.splitlines() if " COMMENT - EXTENSION " not in line) + "\n"


def dump_database(service: str, dump: Path, manifest: dict[str, Any]) -> str | None:
    """The database the dump itself says it is of (``pg_restore --list``'s ``;     dbname:`` header line,
    written by pg_dump, not editable in the manifest); None when the header has none."""
    pg_restore = restore_tools(service, manifest).binary("pg_restore")
    listed = dump_module.run_tool([pg_restore, "--list", str(dump)], f"pg_restore --list {dump.name}").stdout
    for line in listed.splitlines():
        if line.startswith(";") and line[1:].strip().lower().startswith("dbname:"):
            return line[1:].strip()[len("dbname:") :].strip()
    return None


def _first_error(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line or "FATAL" in line or "error" in line]
    return (errors or lines or ["failed"])[0]


def restore_exactly(
    service: str,
    dump: Path,
    manifest: dict[str, Any],
    log: Callable[[str], None],
    undo: Callable[[str], store.Backup] | None = None,
) -> tuple[Outcome, store.Backup | None]:
    """Drop what the role owns, restore ``dump``, COMMIT only if the result equals ``manifest``
    (the backup of an empty target: nothing to restore between the two). A lock an application holds
    makes the try roll back, and it is tried again a few times before failing with the holder's name.

    ``undo(snapshot)``: takes the backup of the target as it is, from the snapshot the restore's own
    transaction exports once it holds every table it replaces in SHARE mode (no write can commit
    between that backup and the replacement: the application's writes wait, then go to the restored
    tables). It is removed again when the restore does not commit (nothing was replaced)."""
    import psycopg

    def blockers() -> str:
        with psycopg.connect(conninfo(service), autocommit=True) as conn:
            return waits.blocking_sessions(conn)

    return waits.retrying(lambda: _restore_once(service, dump, manifest, undo), f"restoring {dump.name}", blockers, log)


def remove_backup(backup: store.Backup) -> None:
    """An undo backup of a restore that replaced nothing: not kept (it would push older ones out)."""
    backup.path.unlink(missing_ok=True)
    store.manifest_path(backup.path).unlink(missing_ok=True)


def _restore_once(
    service: str, dump: Path, manifest: dict[str, Any], undo: Callable[[str], store.Backup] | None = None
) -> tuple[Outcome, store.Backup | None]:
    empty = store.is_empty_backup(manifest)
    taken: store.Backup | None = None
    with tempfile.TemporaryDirectory(prefix="pgconverge-restore-") as folder:
        toc = Path(folder) / "toc.list"
        if not empty:
            pg_restore = restore_tools(service, manifest).binary("pg_restore")
            toc.write_text(restore_list(dump, pg_restore))
        err = Path(folder) / "err"
        output: list[str] = []
        try:
            with open(err, "w") as stderr, open(Path(folder) / "dump-err", "w") as dump_err:
                psql = subprocess.Popen(
                    [
                        "psql",
                        "-X",
                        "-q",
                        "-A",
                        "-t",
                        "-F",
                        "\t",
                        "-v",
                        "ON_ERROR_STOP=1",
                        "-d",
                        conninfo(service),
                        "-f",
                        "-",
                    ],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    env=child_env(),
                )
                try:
                    snapshot = _take_over(psql)
                    if snapshot is not None and undo is not None:
                        taken = undo(snapshot)
                except BaseException:
                    _abandon(psql)
                    raise
                drain = threading.Thread(target=lambda: output.extend(_lines(psql)), daemon=True)
                drain.start()
                if snapshot is None:
                    restored_ok = _feed_script(psql, "")
                elif empty:
                    restored_ok = _feed_script(psql, script_drop() + script_tail(manifest))
                else:
                    reader = subprocess.Popen(
                        [pg_restore, "--no-owner", "--no-acl", "-L", str(toc), "-f", "-", str(dump)],
                        stdout=subprocess.PIPE,
                        stderr=dump_err,
                        stdin=subprocess.DEVNULL,
                        env=child_env(),
                    )
                    restored_ok = _feed(psql, reader, manifest)
                psql.wait()
                drain.join()
            if not restored_ok:
                problem = _first_error(Path(folder, "dump-err").read_text())
                raise BackupError(f"pg_restore could not read {dump.name} ({problem}): the target was not changed")
            if psql.returncode != 0:
                raise BackupError(
                    f"restore of {dump.name} failed, the target was not changed: {_first_error(err.read_text())}"
                )
            outcome = _outcome("".join(output))
        except BaseException:
            if taken is not None:
                remove_backup(taken)
            raise
        if not outcome.committed and taken is not None:
            remove_backup(taken)
            taken = None
        return outcome, taken


def _lines(psql: subprocess.Popen) -> list[str]:
    assert psql.stdout
    return [line.decode(errors="replace") for line in psql.stdout]


def _take_over(psql: subprocess.Popen) -> str | None:
    """Send the head (BEGIN, bounded waits, every table the role owns locked against writes) and the
    snapshot export; the snapshot's id once psql printed it, None when psql stopped (its error says why)."""
    assert psql.stdin and psql.stdout
    try:
        psql.stdin.write((script_head() + f"SELECT '{MARK}-snapshot', pg_export_snapshot();\n").encode())
        psql.stdin.flush()
    except BrokenPipeError:
        return None
    for raw in psql.stdout:
        line = raw.decode(errors="replace").rstrip("\n")
        if line.startswith(f"{MARK}-snapshot\t"):
            return line.split("\t", 1)[1]
    return None


def _abandon(psql: subprocess.Popen) -> None:
    """End psql without COMMIT: its transaction rolls back, nothing was replaced."""
    psql.kill()
    psql.wait()


def _feed(psql: subprocess.Popen, reader: subprocess.Popen, manifest: dict[str, Any]) -> bool:
    """Head, pg_restore's script, and the tail only when pg_restore ended well (else no COMMIT ever)."""
    assert psql.stdin and reader.stdout
    try:
        psql.stdin.write(script_drop().encode())
        while block := reader.stdout.read(CHUNK):
            psql.stdin.write(block)
        if reader.wait() != 0:
            return False
        psql.stdin.write(script_tail(manifest).encode())
        return True
    except BrokenPipeError:
        reader.kill()
        reader.wait()
        return True  # psql stopped on an error: its own message says which
    finally:
        try:
            psql.stdin.close()
        except BrokenPipeError:
            pass


def _feed_script(psql: subprocess.Popen, script: str) -> bool:
    """The whole script at once (no dump to stream): psql's own message says what failed, if anything."""
    assert psql.stdin
    try:
        psql.stdin.write(script.encode())
    except BrokenPipeError:
        pass
    finally:
        try:
            psql.stdin.close()
        except BrokenPipeError:
            pass
    return True


def _outcome(output: str) -> Outcome:
    state = next((line for line in output.splitlines() if line.startswith(f"{MARK}-state\t")), None)
    if state is None:
        raise BackupError("the restore ended before its check: the target was not changed")
    _, snapshot, rows = state.split("\t", 2)
    return Outcome(f"{MARK}-committed" in output.splitlines(), json.loads(snapshot), json.loads(rows))
