"""
Loading seed files through the driver: each file's bytes go to PostgreSQL as ``COPY ... FROM STDIN``
data (CSV) into a temporary table, never into a script, so no line of a data file can be read as a
command. Then :data:`tasks.data.seed.APPLY_SQL` inserts (or, in ``count`` mode, only counts) the rows
missing by primary key, in one transaction.

``mode="count"`` rolls back and reports what is missing (the dry run, the backup decision);
``mode="insert"`` takes the deploys' advisory lock and commits.
"""

from __future__ import annotations

import re

import psycopg
from psycopg import sql

from tasks.core import interrupt, waits
from tasks.core.errors import ActionableError, describe
from tasks.core.lock import LOCK_KEY
from tasks.data.seed import APPLY_SQL, SeedCount, SeedFile

# SQLSTATE classes of a failure that is not the seed files' fault: connection, transaction rollback,
# resources (disk, memory, slots), object state (a lock not granted), operator intervention, system.
NOT_THE_FILE = ("08", "40", "53", "55", "57", "58")
COPY_CONTEXT = re.compile(r"COPY _seed_(\d+), line (\d+)(?:, column (\w+))?")
FILES_DDL = (
    "CREATE TEMP TABLE _seed_files (position int, target regclass, source text, file text, columns text[], "
    "mode text, upsert boolean, result bigint, updates bigint, sample text) ON COMMIT DROP"
)

TEMPORARY_SQL = "SELECT has_database_privilege(current_database(), 'TEMPORARY'), current_user, current_database()"


class SeedError(ActionableError, RuntimeError):
    """The seed files could not be loaded; the message is one line naming the file (and line) and the fix."""


def _target(seed: SeedFile) -> sql.Identifier:
    schema, _, table = seed.table.partition(".")
    return sql.Identifier(schema, table)


def _columns(seed: SeedFile) -> sql.Composed:
    return sql.SQL(", ").join(map(sql.Identifier, seed.columns))


def _stage(conn: psycopg.Connection, position: int, seed: SeedFile, mode: str, upsert: bool) -> None:
    """One file into ``pg_temp._seed_<position>``: the table's column types, the file's bytes as COPY data."""
    source = f"_seed_{position}"
    conn.execute(
        sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
            sql.Identifier(source), _columns(seed), _target(seed)
        )
    )
    copy = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, HEADER true)").format(
        sql.Identifier(source), _columns(seed)
    )
    with conn.cursor().copy(copy) as stream:
        stream.write(seed.text.encode("utf-8"))
    conn.execute(
        "INSERT INTO _seed_files VALUES (%s, %s::regclass, %s, %s, %s, %s, %s, 0, 0, NULL)",
        (position, _target(seed).as_string(conn), source, seed.filename, list(seed.columns), mode, upsert),
    )


def _explain(exc: psycopg.Error, files: list[SeedFile], current: SeedFile | None) -> str:
    """One line naming the seed file (and CSV line) behind a server error."""
    diag = exc.diag
    code = exc.sqlstate or ""
    if code[:2] in NOT_THE_FILE or (isinstance(exc, psycopg.OperationalError) and not code):
        return f"loading the seed files stopped, the files are not at fault: {describe(exc)}; nothing was inserted"
    error = (diag.message_primary or str(exc).strip().splitlines()[0]).removeprefix("pgconverge: ")
    copy = COPY_CONTEXT.search(diag.context or "")
    if copy and 0 < int(copy[1]) <= len(files):
        column = f", column {copy[3]}" if copy[3] else ""
        return (
            f"seed file {files[int(copy[1]) - 1].filename} line {copy[2]}{column}: {error}: "
            "fix the file; nothing was inserted"
        )
    if current is not None and not error.startswith("seed"):
        return f"seed file {current.filename}: {error}: fix the file; nothing was inserted"
    return f"{error}; nothing was inserted"


def _temporary_allowed(conn: psycopg.Connection) -> None:
    """The seed files' rows are compared in temporary tables: without the TEMPORARY privilege on the
    database, say which GRANT gives it (before anything is created)."""
    row = conn.execute(TEMPORARY_SQL).fetchone()
    if row is None or row[0]:
        return
    role, database = (sql.Identifier(name).as_string(conn) for name in row[1:])
    raise SeedError(
        f"role {role} may not create temporary tables in database {database}, where the seed files' rows are "
        f"compared: GRANT TEMPORARY ON DATABASE {database} TO {role}; nothing was inserted"
    )


def _absent(conn: psycopg.Connection, files: list[SeedFile]) -> list[str]:
    rows = conn.execute(
        "SELECT t FROM unnest(%s::text[]) WITH ORDINALITY u(t, n) WHERE to_regclass(t) IS NULL ORDER BY n",
        ([f.table for f in files],),
    ).fetchall()
    return [r[0] for r in rows]


def missing(service: str, files: list[SeedFile], upsert: bool = False) -> dict:
    """:func:`load` in ``count`` mode over the run's session to ``service`` (in a transaction always
    rolled back), remembered with its facts until this run changes something: the target backup's
    decision and the seed state ask the same question."""
    from tasks.core.fact import remember
    from tasks.core.sessions import session

    def count() -> dict:
        try:
            conn = session(service).connection()
        except psycopg.OperationalError as exc:
            raise SeedError(_unreachable(exc)) from None
        with conn.transaction(force_rollback=True):
            return _load(conn, files, "count", upsert)

    key = ("seed rows missing", tuple((f.filename, f.table, f.text) for f in files), upsert)
    return remember(service, key, count)


def _unreachable(exc: psycopg.OperationalError) -> str:
    lines = str(exc).strip().splitlines()
    return f"cannot connect to load the seed files: {lines[-1] if lines else 'connection failed'}"


def load(conninfo: str, files: list[SeedFile], mode: str, upsert: bool = False) -> dict:
    """
    ``{"absent": [tables], "tables": {filename: SeedCount}}``: in ``count`` mode what is missing (tables a
    pending migration has not made yet come back as ``absent``), in ``insert`` mode what was inserted.
    """
    assert mode in ("count", "insert")
    try:
        conn = psycopg.connect(conninfo)
    except psycopg.OperationalError as exc:
        raise SeedError(_unreachable(exc)) from None
    try:
        return _load(conn, files, mode, upsert)
    finally:
        conn.close()  # without commit: rolled back


def _load(conn: psycopg.Connection, files: list[SeedFile], mode: str, upsert: bool) -> dict:
    current = None
    try:
        conn.execute("SET LOCAL client_encoding = 'UTF8'; SET LOCAL client_min_messages = warning")
        conn.execute(waits.NO_STATEMENT_TIMEOUT)  # counts against big tables, ANALYZE: not a role's limit
        if mode == "insert":
            # One deploy at a time (the migrations' lock key): a concurrent one then finds the rows present.
            conn.execute("SET LOCAL lock_timeout = '60s'")
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        elif absent := _absent(conn, files):
            return {"absent": absent, "tables": {}}
        _temporary_allowed(conn)
        conn.execute(FILES_DDL)
        for position, seed in enumerate(files, 1):
            current = seed
            _stage(conn, position, seed, mode, upsert)
        current = None
        with interrupt.working(conn):  # Ctrl-C / SIGTERM cancel it on the server, not left running there
            conn.execute(APPLY_SQL)
        rows = conn.execute(
            "SELECT file, target::text, result, updates, coalesce(sample, '') FROM _seed_files ORDER BY position"
        ).fetchall()
        if mode == "insert":
            conn.commit()
        return {
            "absent": [],
            "tables": {
                file: SeedCount(table, int(missing), int(updates), sample)
                for file, table, missing, updates, sample in rows
            },
        }
    except psycopg.Error as exc:
        raise SeedError(_explain(exc, files, current)) from None
