"""
Roles and databases in the sandbox clusters: the source loaded with the example app (migrations,
seed, sample data) and the empty target database owned by a role that is not a superuser.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from sandbox.binaries import find_bindir, tool
from sandbox.paths import (
    CLUSTERS,
    DEFAULT_ROWS,
    EXTRA_TARGETS,
    MIGRATIONS_DIR,
    ROOT,
    SEED_DIR,
    SEED_TABLES,
    SOURCE_DB,
    SUPERUSER,
    TARGET_DB,
    TARGET_OWNER,
    SandboxError,
    cluster_socket_dir,
    run_command,
    say,
)
from sandbox.state import load_state, save_state

# --------------------------------------------------------------------------- SQL helpers


def admin_conninfo(which: str, dbname: str | None = None) -> str:
    """libpq conninfo for the superuser over the unix socket of ``which`` ('source'/'target').

    ``dbname`` defaults to the cluster's application database (whynot / whynot_target).
    """
    if which not in (*CLUSTERS, *EXTRA_TARGETS):
        raise ValueError(f"which must be one of {CLUSTERS + EXTRA_TARGETS}")
    state = load_state()
    port = (state or {}).get(which, {}).get("port")
    if not port:
        raise SandboxError("no sandbox yet: run python -m sandbox up")
    db = dbname or (SOURCE_DB if which == "source" else TARGET_DB)
    return f"host={cluster_socket_dir(which)} port={port} user={SUPERUSER} dbname={db} connect_timeout=10"


def connect_admin(which: str, dbname: str):
    import psycopg  # only the SQL parts need it; keeps `status`/`down` free of the dependency

    return psycopg.connect(admin_conninfo(which, dbname), autocommit=True)


def _scram(conn, user: str, password: str) -> str:
    """The SCRAM verifier of ``password`` (computed here, so the server never sees the password)."""
    return conn.pgconn.encrypt_password(password.encode(), user.encode(), b"scram-sha-256").decode()


def _ensure_role(conn, role: str, password: str, attributes: str) -> None:
    """Create or update ``role`` with ``attributes`` and ``password``."""
    from psycopg import sql

    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    verb = "ALTER" if exists else "CREATE"
    conn.execute(
        sql.SQL("{} ROLE {} WITH {} PASSWORD {}").format(
            sql.SQL(verb), sql.Identifier(role), sql.SQL(attributes), sql.Literal(_scram(conn, role, password))
        )
    )


def _database_exists(conn, dbname: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone() is not None


def drop_database(conn, dbname: str) -> None:
    """Drop ``dbname`` after ending its other connections."""
    from psycopg import sql

    conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
        (dbname,),
    )
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


# --------------------------------------------------------------------------- source data


def _psql_file(state: dict, conninfo: str, path: Path) -> None:
    """Apply one SQL file in a single transaction, stopping at the first error."""
    cmd = [tool(state, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-f", str(path), "-d", conninfo]
    run_command(state, cmd, what=f"migration {path.name}", cwd=ROOT)


def apply_migrations(conninfo: str, state: dict | None = None) -> list[str]:
    """Apply every files/migrations/*.sql in name order with psql; return their names."""
    state = state or load_state() or {"bindir": find_bindir()}
    files = sorted(MIGRATIONS_DIR.glob("*.sql"))
    for path in files:
        _psql_file(state, conninfo, path)
    return [path.name for path in files]


def load_seed(conninfo: str) -> dict:
    """COPY files/seed/{users,rooms,room_participants}.csv (header row = columns); rows per table."""
    import psycopg
    from psycopg import sql

    counts = {}
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        for table in SEED_TABLES:
            path = SEED_DIR / f"{table}.csv"
            with open(path, newline="") as handle:
                columns = next(csv.reader(handle))
                handle.seek(0)
                statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, HEADER true)").format(
                    sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
                )
                with cur.copy(statement) as copy:
                    copy.write(handle.read())
            counts[table] = cur.rowcount
    return counts


def advance_sequences(conninfo: str) -> None:
    """Move the identity sequences of users, rooms and messages past max(id)."""
    import psycopg

    with psycopg.connect(conninfo) as conn:
        for table in ("users", "rooms", "messages"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" coalesce((SELECT max(id) FROM {table}), 1),"
                f" (SELECT max(id) IS NOT NULL FROM {table}))"
            )


def _rows_wanted(rows: int | None) -> int:
    if rows is not None:
        value = rows
    else:
        raw = os.environ.get("SANDBOX_ROWS", "").strip()
        if raw and not raw.isdigit():
            raise SandboxError("SANDBOX_ROWS must be a whole number of messages")
        value = int(raw) if raw else DEFAULT_ROWS
    if value < 0:
        raise SandboxError("--rows must be >= 0")
    return value


def _recreate_source_db() -> None:
    """A fresh, empty ``whynot`` (anything from a half-finished earlier load is dropped)."""
    from psycopg import sql

    with connect_admin("source", "postgres") as conn:
        drop_database(conn, SOURCE_DB)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(SOURCE_DB)))


def _load_source(state: dict, rows: int) -> dict:
    """Schema, seed rows and ``rows`` generated messages into a fresh ``whynot``."""
    from sandbox import sample_data

    _recreate_source_db()
    conninfo = admin_conninfo("source")
    apply_migrations(conninfo, state)
    load_seed(conninfo)
    counts = sample_data.generate(conninfo, rows)
    advance_sequences(conninfo)
    return counts


def ensure_source_data(state: dict, rows: int | None) -> None:
    """Load the source database once; later calls only check it is there."""
    src = state["source"]
    with connect_admin("source", "postgres") as conn:
        _ensure_role(conn, SUPERUSER, src["password"], "SUPERUSER LOGIN")
        present = _database_exists(conn, SOURCE_DB)
    if src.get("loaded") and present:
        note = " (--rows ignored; destroy to reload)" if rows is not None and rows != src.get("rows") else ""
        say(f"source: data already loaded ({src.get('rows', 0):,} messages){note}")
        return
    wanted = _rows_wanted(rows)
    src["loaded"] = False
    save_state(state)
    counts = _load_source(state, wanted)
    src.update(loaded=True, rows=wanted, counts=counts)
    save_state(state)
    say(f"source: loaded {counts['messages']:,} messages")


# --------------------------------------------------------------------------- target database


def create_target_db(conn, cluster: str = "target") -> None:
    """An empty ``whynot_target`` owned by ``whynot_owner``, closed to PUBLIC."""
    from psycopg import sql

    db = sql.Identifier(TARGET_DB)
    conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(db, sql.Identifier(TARGET_OWNER)))
    conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
    if conn.info.server_version < 150000:  # before 15, public belongs to the bootstrap superuser
        with connect_admin(cluster, TARGET_DB) as db_conn:
            db_conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(TARGET_OWNER)))


def ensure_target_db(state: dict, cluster: str = "target") -> None:
    """The owner role (password from state) and its database; existing data is kept."""
    from psycopg import sql

    with connect_admin(cluster, "postgres") as conn:
        _ensure_role(
            conn,
            TARGET_OWNER,
            state[cluster]["password"],
            "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS",
        )
        if not _database_exists(conn, TARGET_DB):
            create_target_db(conn, cluster)
            say(f"{cluster}: created database {TARGET_DB} owned by {TARGET_OWNER}")
        else:
            conn.execute(
                sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(TARGET_DB), sql.Identifier(TARGET_OWNER))
            )
