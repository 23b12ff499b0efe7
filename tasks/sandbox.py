"""
The embedded local default: two throw-away PostgreSQL clusters under ``.sandbox/``.

* ``source`` plays the developer's Docker postgres: superuser ``postgres`` with a password,
  database ``whynot`` with the migrations, the seed CSVs and generated sample data.
* ``target`` plays Heroku Postgres: SSL only over TCP (self-signed certificate), 20
  connections, a non-superuser ``whynot_owner`` owning the empty database ``whynot_target``.

Both listen on 127.0.0.1 (free ports picked on the first ``up``) and on a unix socket in
``.sandbox/<name>/run`` where ``postgres`` is trusted (the folder is 0700, so only its owner —
and root — can reach it). ``up`` writes ``.sandbox/env`` (``SOURCE_DATABASE_URL`` and
``TARGET_DATABASE_URL``) for ``ENV_FILE=.sandbox/env``; ports and passwords live in
``.sandbox/state.json`` (0600) so later runs reuse them.

PostgreSQL refuses to run as root: as root the servers run as the ``postgres`` OS user (or a
``pgconverge`` system user created on demand) via ``runuser``.

CLI: ``python -m tasks.sandbox up [--rows N] | down | status | reset-target | destroy``.
Errors are one line on stderr (plus the end of server.log when a server fails) and exit 1.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import fcntl
import glob
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tasks.processes import pid_alive

ROOT = Path(__file__).resolve().parent.parent
SANDBOX = ROOT / ".sandbox"
STATE_FILE = SANDBOX / "state.json"
ENV_FILE = SANDBOX / "env"
LOCK_FILE = SANDBOX / ".lock"
MIGRATIONS_DIR = ROOT / "files" / "migrations"
SEED_DIR = ROOT / "files" / "seed"
SEED_TABLES = ("users", "rooms", "room_participants")
DATA_TABLES = ("users", "rooms", "room_participants", "messages")

CLUSTERS = ("source", "target")
SUPERUSER = "postgres"
SOURCE_DB = "whynot"
TARGET_DB = "whynot_target"
TARGET_OWNER = "whynot_owner"
FALLBACK_OS_USER = "pgconverge"
HOST = "127.0.0.1"
DEFAULT_ROWS = 2_000
STATE_VERSION = 1
MAX_SOCKET_PATH = 99  # sun_path is 108 bytes; stay well below
LOG_TAIL_LINES = 15

# Settings for both clusters. fsync/full_page_writes/synchronous_commit are off because this
# is a disposable sandbox: a crash may corrupt it (then `destroy` and `up` again), never real data.
COMMON_SETTINGS = {
    "listen_addresses": f"'{HOST}'",
    "shared_buffers": "'32MB'",
    "work_mem": "'4MB'",
    "maintenance_work_mem": "'64MB'",
    "max_wal_size": "'1GB'",
    "fsync": "off",
    "full_page_writes": "off",
    "synchronous_commit": "off",
    "dynamic_shared_memory_type": "posix",
    "log_min_messages": "warning",
    "log_line_prefix": "'%m [%p] %q%u@%d '",
}
# The source runs without autovacuum: an automatic ANALYZE takes a transaction id, which makes
# the source backup's fingerprint move without any change to the data (tests want a stable one).
CLUSTER_SETTINGS = {
    "source": {"max_connections": "50", "autovacuum": "off"},
    "target": {"max_connections": "20", "ssl": "on"},
}
HBA = {
    "source": [
        "local all all trust",
        f"host all all {HOST}/32 scram-sha-256",
    ],
    "target": [
        "local all all trust",
        f"hostssl all all {HOST}/32 scram-sha-256",
        f"host all all {HOST}/32 reject",
    ],
}
CONF_INCLUDE = "pgconverge.conf"


class SandboxError(RuntimeError):
    """A problem the user can act on; the message is one line (never holding a password)."""


# --------------------------------------------------------------------------- output


def _say(text: str) -> None:
    print(text, flush=True)


# --------------------------------------------------------------------------- paths


def _cluster_dir(name: str) -> Path:
    return SANDBOX / name


def _data_dir(name: str) -> Path:
    return _cluster_dir(name) / "data"


def _log_file(name: str) -> Path:
    return _cluster_dir(name) / "server.log"


def _init_marker(name: str) -> Path:
    """Written after initdb and all configuration succeeded; its absence means "redo"."""
    return _cluster_dir(name) / "initialized"


def _socket_dir(name: str) -> Path:
    """``.sandbox/<name>/run``, or a short folder in the temp dir when that path is too long."""
    preferred = _cluster_dir(name) / "run"
    plain = re.fullmatch(r"[A-Za-z0-9._/+-]+", str(preferred))  # nothing to quote in config/conninfo
    if plain and len(str(preferred)) + len("/.s.PGSQL.65535") <= MAX_SOCKET_PATH:
        return preferred
    digest = hashlib.sha1(str(SANDBOX).encode()).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / f"pgconverge-sandbox-{digest}" / name


# --------------------------------------------------------------------------- state files


def _match_sandbox_owner(path: Path) -> None:
    """As root in a sandbox made by a normal user, keep that user the owner of ``path``."""
    if _is_root():
        owner = SANDBOX.stat()
        if owner.st_uid != 0:
            os.chown(path, owner.st_uid, owner.st_gid)


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically with mode 0600."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)
    _match_sandbox_owner(tmp)
    os.replace(tmp, path)


def load_state() -> dict | None:
    """The saved state (.sandbox/state.json), or None when there is none."""
    try:
        return json.loads(STATE_FILE.read_text())
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SandboxError(f"cannot read {STATE_FILE}: {exc.strerror}") from None
    except ValueError:
        raise SandboxError(f"{STATE_FILE} is not valid JSON; run: python -m tasks.sandbox destroy") from None


def _save_state(state: dict) -> None:
    _write_private(STATE_FILE, json.dumps(state, indent=2, sort_keys=True) + "\n")


def database_urls(state: dict) -> dict:
    """SOURCE_DATABASE_URL and TARGET_DATABASE_URL for ``state`` (they hold passwords)."""
    src, tgt = state["source"], state["target"]
    return {
        "SOURCE_DATABASE_URL": f"postgresql://{SUPERUSER}:{src['password']}@{HOST}:{src['port']}/{SOURCE_DB}",
        "TARGET_DATABASE_URL": (
            f"postgresql://{TARGET_OWNER}:{tgt['password']}@{HOST}:{tgt['port']}/{TARGET_DB}?sslmode=require"
        ),
    }


def _write_env(state: dict) -> None:
    lines = ["# written by python -m tasks.sandbox up: the embedded default (two local clusters)"]
    lines += [f"{key}={value}" for key, value in database_urls(state).items()]
    _write_private(ENV_FILE, "\n".join(lines) + "\n")


@contextlib.contextmanager
def _locked():
    """Serialise sandbox changes between processes (e.g. parallel test workers)."""
    SANDBOX.mkdir(mode=0o755, exist_ok=True)
    if SANDBOX.stat().st_uid == os.geteuid():
        os.chmod(SANDBOX, 0o755)  # the server user must traverse it; secrets inside are 0600
    try:
        handle = open(LOCK_FILE, "a")
    except PermissionError:
        owner = pwd.getpwuid(SANDBOX.stat().st_uid).pw_name
        raise SandboxError(f"{SANDBOX} belongs to {owner}; run this as {owner}") from None
    with handle:
        _match_sandbox_owner(LOCK_FILE)
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- binaries and users


def _has_initdb(bindir: str | Path | None) -> bool:
    return bool(bindir) and (Path(bindir) / "initdb").is_file()


def _version_key(path: str) -> tuple:
    return tuple(int(part) for part in re.findall(r"\d+", path))


def find_bindir() -> str:
    """The folder of initdb/pg_ctl/postgres: pg_config, then /usr/lib/postgresql/*, then PATH."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, env=_clean_env())
        if result.returncode == 0 and _has_initdb(result.stdout.strip()):
            return result.stdout.strip()
    candidates = glob.glob("/usr/lib/postgresql/*/bin") + glob.glob("/usr/pgsql-*/bin")
    for candidate in sorted(candidates, key=_version_key, reverse=True):
        if _has_initdb(candidate):
            return candidate
    initdb = shutil.which("initdb")
    if initdb:
        return str(Path(initdb).parent)
    raise SandboxError("PostgreSQL server binaries (initdb) not found; install them: apt-get install postgresql")


def _tool(state: dict, name: str) -> str:
    """A client/server program, preferring the cluster's bindir."""
    candidate = Path(state["bindir"]) / name
    if candidate.is_file():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise SandboxError(f"{name} not found; install it: apt-get install postgresql-client")
    return found


def _is_root() -> bool:
    return os.geteuid() == 0


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _create_system_user(name: str) -> None:
    shell = "/usr/sbin/nologin" if os.path.exists("/usr/sbin/nologin") else "/bin/false"
    cmd = ["useradd", "--system", "--no-create-home", "--user-group", "--shell", shell, name]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 and not _user_exists(name):
        raise SandboxError(f"could not create the OS user {name!r}: {_last_line(result.stderr)}")


def _data_dir_owner() -> str | None:
    """The (non-root) owner of an existing cluster's data folder, if any."""
    for name in CLUSTERS:
        try:
            uid = _data_dir(name).stat().st_uid
        except OSError:
            continue
        if uid != 0:
            with contextlib.suppress(KeyError):
                return pwd.getpwuid(uid).pw_name
    return None


def _server_os_user() -> str | None:
    """Who runs the servers: None (ourselves) unless root, then the existing clusters' owner,
    else postgres, else pgconverge (created)."""
    if not _is_root():
        return None
    existing = _data_dir_owner()
    if existing:
        return existing
    if _user_exists("postgres"):
        return "postgres"
    if not _user_exists(FALLBACK_OS_USER):
        _create_system_user(FALLBACK_OS_USER)
    return FALLBACK_OS_USER


def _clean_env() -> dict:
    """Our environment without PG* variables, so nothing overrides the explicit settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _as_server(state: dict, cmd: list[str]) -> list[str]:
    """``cmd`` run as the server OS user (via runuser or setpriv) when we are root."""
    user = state.get("os_user")
    if not user or not _is_root():
        return cmd
    if shutil.which("runuser"):
        return ["runuser", "-u", user, "--", *cmd]
    if shutil.which("setpriv"):
        return ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--", *cmd]
    raise SandboxError("running as root needs runuser or setpriv (apt-get install util-linux)")


def _run(state: dict, cmd: list[str], *, what: str, server: bool = False, cwd: Path | None = None,
         check: bool = True) -> subprocess.CompletedProcess:
    """Run ``cmd`` (as the server user when ``server``); on failure raise with stderr's last line."""
    full = _as_server(state, cmd) if server else cmd
    result = subprocess.run(full, capture_output=True, text=True, cwd=cwd or _cluster_dir("."),
                            env=_clean_env(), stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise SandboxError(f"{what} failed: {_last_line(result.stderr or result.stdout)}")
    return result


def _chown(state: dict, *paths: Path) -> None:
    """Give ``paths`` to the server OS user (no-op unless root)."""
    user = state.get("os_user")
    if not user or not _is_root():
        return
    entry = pwd.getpwnam(user)
    for path in paths:
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _check_owner(name: str) -> None:
    """A non-root user cannot run a cluster made for another user (e.g. by root)."""
    data = _data_dir(name)
    if not _is_root() and data.exists() and data.stat().st_uid != os.geteuid():
        owner = pwd.getpwuid(data.stat().st_uid).pw_name
        raise SandboxError(f"{data} belongs to {owner}; run as root or as {owner}, or destroy the sandbox")


# --------------------------------------------------------------------------- ports and processes


def _port_free(port: int) -> bool:
    """Can a server bind 127.0.0.1:port? (SO_REUSEADDR like the postmaster.)"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _new_port(avoid: set[int]) -> int:
    """A free loopback port from the OS (bound, then closed), not in ``avoid``."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = sock.getsockname()[1]
        if port not in avoid:
            return port
    raise SandboxError("could not find a free TCP port on 127.0.0.1")


def _pid_alive(pid: int) -> bool:
    proc = Path(f"/proc/{pid}")
    if Path("/proc/self").exists():
        try:
            return "postgres" in (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return False
    return pid_alive(pid)


def _running(name: str) -> dict | None:
    """``{"pid", "port"}`` of the cluster's postmaster when it is running, else None."""
    try:
        lines = (_data_dir(name) / "postmaster.pid").read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None
    return {"pid": pid, "port": port} if _pid_alive(pid) else None


# --------------------------------------------------------------------------- cluster creation


def _prepare_dirs(state: dict, name: str) -> None:
    """The cluster folder and the socket folder, 0700 and owned by the server user."""
    cluster, run = _cluster_dir(name), _socket_dir(name)
    cluster.mkdir(mode=0o700, parents=True, exist_ok=True)
    if run.parent != cluster:
        run.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    run.mkdir(mode=0o700, exist_ok=True)
    for path in (cluster, run):
        os.chmod(path, 0o700)
    _chown(state, cluster, run)


def _check_reachable(state: dict, name: str) -> None:
    """As root, make sure the server user can reach the cluster folder (all parents traversable)."""
    if not state.get("os_user") or not _is_root():
        return
    result = _run(state, ["test", "-w", str(_cluster_dir(name))], what="access check", server=True, check=False)
    if result.returncode != 0:
        raise SandboxError(
            f"OS user {state['os_user']} cannot reach {_cluster_dir(name)}; make its parent folders "
            "traversable (chmod o+x)"
        )


def _initdb(state: dict, name: str) -> None:
    """initdb with C.UTF-8 (or no locale where C.UTF-8 is missing); removes a failed attempt."""
    base = [_tool(state, "initdb"), "-D", str(_data_dir(name)), "-U", SUPERUSER, "--auth-local=trust",
            "--auth-host=scram-sha-256", "--encoding=UTF8", "--no-sync"]
    for locale in (["--locale=C.UTF-8"], ["--no-locale"]):
        shutil.rmtree(_data_dir(name), ignore_errors=True)
        result = _run(state, base + locale, what=f"{name}: initdb", server=True, check=False)
        if result.returncode == 0:
            return
        if "locale" not in (result.stderr + result.stdout).lower():
            break
    shutil.rmtree(_data_dir(name), ignore_errors=True)
    raise SandboxError(f"{name}: initdb failed: {_last_line(result.stderr or result.stdout)}")


def _write_cluster_file(state: dict, path: Path, text: str, mode: int = 0o600) -> None:
    path.write_text(text)
    os.chmod(path, mode)
    _chown(state, path)


def _configure(state: dict, name: str) -> None:
    """Include pgconverge.conf from postgresql.conf and write pg_hba.conf."""
    data = _data_dir(name)
    with open(data / "postgresql.conf", "a") as conf:
        conf.write(f"\n# pgconverge sandbox settings (rewritten on every start)\ninclude = '{CONF_INCLUDE}'\n")
    header = f"# pgconverge sandbox: {name}\n# TYPE DATABASE USER ADDRESS METHOD\n"
    _write_cluster_file(state, data / "pg_hba.conf", header + "\n".join(HBA[name]) + "\n")


def _write_settings(state: dict, name: str, port: int) -> None:
    """pgconverge.conf: port, socket folder and the sandbox settings."""
    settings = {**COMMON_SETTINGS, **CLUSTER_SETTINGS[name], "port": str(port),
                "unix_socket_directories": f"'{_socket_dir(name)}'"}
    text = "".join(f"{key} = {value}\n" for key, value in settings.items())
    _write_cluster_file(state, _data_dir(name) / CONF_INCLUDE, "# written by tasks/sandbox.py\n" + text)


def _make_certificate(state: dict, name: str) -> None:
    """A self-signed server.crt/server.key in the data folder (key 0600, owned by the server user)."""
    openssl = shutil.which("openssl")
    if not openssl:
        raise SandboxError("openssl not found; install it: apt-get install openssl")
    data = _data_dir(name)
    _run(state, [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
                 "-subj", "/CN=localhost", "-keyout", str(data / "server.key"),
                 "-out", str(data / "server.crt")], what=f"{name}: openssl", cwd=data)
    os.chmod(data / "server.key", 0o600)
    os.chmod(data / "server.crt", 0o644)
    _chown(state, data / "server.key", data / "server.crt")


def _init_cluster(state: dict, name: str) -> None:
    """Create the cluster from scratch (anything half-made before is removed)."""
    _say(f"{name}: initdb …")
    _prepare_dirs(state, name)
    _check_reachable(state, name)
    _initdb(state, name)
    _configure(state, name)
    if name == "target":
        _make_certificate(state, name)
    _write_cluster_file(state, _init_marker(name), "ok\n", 0o644)
    if name == "source":
        state["source"]["loaded"] = False


# --------------------------------------------------------------------------- start and stop


def _log_tail(name: str) -> str:
    try:
        lines = _log_file(name).read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
    except OSError:
        return "  (no server.log)"
    return "\n".join(f"  {line}" for line in lines) or "  (server.log is empty)"


def _choose_port(state: dict, name: str) -> int:
    """The saved port when free, else a new one (never the other cluster's)."""
    other = state[[c for c in CLUSTERS if c != name][0]].get("port")
    saved = state[name].get("port")
    if saved and saved != other and _port_free(saved):
        return saved
    port = _new_port({other} if other else set())
    if saved:
        _say(f"{name}: port {saved} is in use, using {port}")
    return port


def _start(state: dict, name: str) -> None:
    """Start the cluster on a free port; raise with the end of server.log when it fails."""
    port = _choose_port(state, name)
    _prepare_dirs(state, name)
    _write_settings(state, name, port)
    cmd = [_tool(state, "pg_ctl"), "start", "-D", str(_data_dir(name)), "-l", str(_log_file(name)),
           "-w", "-t", "60", "-s"]
    result = _run(state, cmd, what=f"{name}: pg_ctl start", server=True, check=False)
    if result.returncode != 0 or not _running(name):
        raise SandboxError(
            f"{name}: server failed to start on {HOST}:{port}; last lines of {_log_file(name)}:\n{_log_tail(name)}"
        )
    state[name]["port"] = port
    _say(f"{name}: started on {HOST}:{port}")


def _stop(state: dict, name: str) -> bool:
    """Stop the cluster if it runs; True when it was running."""
    if not _running(name):
        return False
    cmd = [_tool(state, "pg_ctl"), "stop", "-D", str(_data_dir(name)), "-m", "fast", "-w", "-t", "60", "-s"]
    _run(state, cmd, what=f"{name}: pg_ctl stop", server=True)
    return True


def _ensure_cluster(state: dict, name: str) -> None:
    """Initialise (if needed) and start (if not running) one cluster."""
    _check_owner(name)
    if not _init_marker(name).exists() or not (_data_dir(name) / "PG_VERSION").exists():
        _stop(state, name)
        _init_cluster(state, name)
    running = _running(name)
    if running:
        state[name]["port"] = running["port"]
        _say(f"{name}: already running on {HOST}:{running['port']}")
    else:
        _start(state, name)


# --------------------------------------------------------------------------- SQL helpers


def admin_conninfo(which: str, dbname: str | None = None) -> str:
    """libpq conninfo for the superuser over the unix socket of ``which`` ('source'/'target').

    ``dbname`` defaults to the cluster's application database (whynot / whynot_target).
    """
    if which not in CLUSTERS:
        raise ValueError(f"which must be one of {CLUSTERS}")
    state = load_state()
    port = (state or {}).get(which, {}).get("port")
    if not port:
        raise SandboxError("no sandbox yet: run python -m tasks.sandbox up")
    db = dbname or (SOURCE_DB if which == "source" else TARGET_DB)
    return f"host={_socket_dir(which)} port={port} user={SUPERUSER} dbname={db} connect_timeout=10"


def _connect(which: str, dbname: str):
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
    conn.execute(sql.SQL("{} ROLE {} WITH {} PASSWORD {}").format(
        sql.SQL(verb), sql.Identifier(role), sql.SQL(attributes), sql.Literal(_scram(conn, role, password))))


def _database_exists(conn, dbname: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone() is not None


def _drop_database(conn, dbname: str) -> None:
    """Drop ``dbname`` after ending its other connections."""
    from psycopg import sql

    conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                 " WHERE datname = %s AND pid <> pg_backend_pid()", (dbname,))
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


# --------------------------------------------------------------------------- source data


def _psql_file(state: dict, conninfo: str, path: Path) -> None:
    """Apply one SQL file in a single transaction, stopping at the first error."""
    cmd = [_tool(state, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-f", str(path), "-d", conninfo]
    _run(state, cmd, what=f"migration {path.name}", cwd=ROOT)


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
                    sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)))
                with cur.copy(statement) as copy:
                    copy.write(handle.read())
            counts[table] = cur.rowcount
    return counts


def advance_sequences(conninfo: str) -> None:
    """Move the identity sequences of users, rooms and messages past max(id)."""
    import psycopg

    with psycopg.connect(conninfo) as conn:
        for table in ("users", "rooms", "messages"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                         f" coalesce((SELECT max(id) FROM {table}), 1),"
                         f" (SELECT max(id) IS NOT NULL FROM {table}))")


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

    with _connect("source", "postgres") as conn:
        _drop_database(conn, SOURCE_DB)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(SOURCE_DB)))


def _load_source(state: dict, rows: int) -> dict:
    """Schema, seed rows and ``rows`` generated messages into a fresh ``whynot``."""
    from tasks import sample_data

    _recreate_source_db()
    conninfo = admin_conninfo("source")
    apply_migrations(conninfo, state)
    load_seed(conninfo)
    counts = sample_data.generate(conninfo, rows)
    advance_sequences(conninfo)
    return counts


def _ensure_source_data(state: dict, rows: int | None) -> None:
    """Load the source database once; later calls only check it is there."""
    src = state["source"]
    with _connect("source", "postgres") as conn:
        _ensure_role(conn, SUPERUSER, src["password"], "SUPERUSER LOGIN")
        present = _database_exists(conn, SOURCE_DB)
    if src.get("loaded") and present:
        note = " (--rows ignored; destroy to reload)" if rows is not None and rows != src.get("rows") else ""
        _say(f"source: data already loaded ({src.get('rows', 0):,} messages){note}")
        return
    wanted = _rows_wanted(rows)
    src["loaded"] = False
    _save_state(state)
    counts = _load_source(state, wanted)
    src.update(loaded=True, rows=wanted, counts=counts)
    _save_state(state)
    _say(f"source: loaded {counts['messages']:,} messages")


# --------------------------------------------------------------------------- target database


def _create_target_db(conn) -> None:
    """An empty ``whynot_target`` owned by ``whynot_owner``, closed to PUBLIC."""
    from psycopg import sql

    db = sql.Identifier(TARGET_DB)
    conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(db, sql.Identifier(TARGET_OWNER)))
    conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
    if conn.info.server_version < 150000:  # before 15, public belongs to the bootstrap superuser
        with _connect("target", TARGET_DB) as db_conn:
            db_conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(TARGET_OWNER)))


def _ensure_target_db(state: dict) -> None:
    """The owner role (password from state) and its database; existing data is kept."""
    from psycopg import sql

    with _connect("target", "postgres") as conn:
        _ensure_role(conn, TARGET_OWNER, state["target"]["password"],
                     "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS")
        if not _database_exists(conn, TARGET_DB):
            _create_target_db(conn)
            _say(f"target: created database {TARGET_DB} owned by {TARGET_OWNER}")
        else:
            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                sql.Identifier(TARGET_DB), sql.Identifier(TARGET_OWNER)))


# --------------------------------------------------------------------------- commands


def _initial_state(previous: dict | None) -> dict:
    """The saved state completed with anything missing (bindir, OS user, passwords)."""
    state = dict(previous or {})
    state["version"] = STATE_VERSION
    if not _has_initdb(state.get("bindir")):
        state["bindir"] = find_bindir()
    state["os_user"] = (state.get("os_user") or _server_os_user()) if _is_root() else None
    for name in CLUSTERS:
        cluster = dict(state.get(name) or {})
        cluster.setdefault("password", secrets.token_hex(24))
        cluster["socket_dir"] = str(_socket_dir(name))
        state[name] = cluster
    state["sandbox"] = str(SANDBOX)
    state["env_file"] = str(ENV_FILE)
    return state


def up(rows: int | None = None) -> dict:
    """Make sure both clusters exist, run and hold their databases; write .sandbox/env.

    Returns the state (see state.json) plus ``"env"``: the two URLs written to .sandbox/env.
    ``rows`` (default $SANDBOX_ROWS or 2,000) sizes the sample data on the first load only.
    """
    started = time.monotonic()
    with _locked():
        state = _initial_state(load_state())
        _save_state(state)
        for name in CLUSTERS:
            _ensure_cluster(state, name)
            _save_state(state)
        _ensure_source_data(state, rows)
        _ensure_target_db(state)
        _save_state(state)
        _write_env(state)
    _say(f"wrote {ENV_FILE.relative_to(ROOT)} (sandbox up in {time.monotonic() - started:.1f}s)")
    return {**state, "env": database_urls(state)}


def _stop_state() -> dict:
    """Enough state to run pg_ctl as the right user, even without state.json."""
    state = load_state() or {}
    if not _has_initdb(state.get("bindir")):
        state["bindir"] = find_bindir()
    if _is_root() and not state.get("os_user"):
        state["os_user"] = _server_os_user()
    return state


def down() -> None:
    """Stop both clusters (data kept). Harmless when stopped or when there is no sandbox."""
    if not SANDBOX.exists():
        _say("no sandbox: nothing to stop")
        return
    with _locked():
        state = _stop_state()
        for name in CLUSTERS:
            _say(f"{name}: stopped" if _stop(state, name) else f"{name}: not running")


def destroy() -> None:
    """Stop both clusters and remove .sandbox/ (and a temp socket folder, if one was used)."""
    if SANDBOX.exists():
        down()
    for name in CLUSTERS:
        run = _socket_dir(name)
        if run.parent != _cluster_dir(name):
            shutil.rmtree(run.parent, ignore_errors=True)
    shutil.rmtree(SANDBOX, ignore_errors=True)
    _say(f"removed {SANDBOX.relative_to(ROOT)}")


def _cluster_status(name: str, state: dict) -> dict:
    """One cluster's ``initialized``/``running``/``port``/``data_dir`` and a line describing it."""
    try:
        running = _running(name)
        initialised = _init_marker(name).exists()
    except PermissionError:
        owner = pwd.getpwuid(SANDBOX.stat().st_uid).pw_name
        return {"initialized": None, "running": None, "port": None, "data_dir": str(_data_dir(name)),
                "line": f"{name}: unknown ({SANDBOX} belongs to {owner})"}
    port = running["port"] if running else (state.get(name) or {}).get("port")
    if running:
        line = f"{name}: running on {HOST}:{port}"
    elif initialised:
        line = f"{name}: stopped (port {port})"
    else:
        line = f"{name}: not initialised (run: python -m tasks.sandbox up)"
    return {"initialized": initialised, "running": bool(running), "port": port,
            "data_dir": str(_data_dir(name)), "line": line}


def status() -> dict:
    """Print and return each cluster's state: initialized, running, port, data_dir."""
    try:
        state = load_state() or {}
    except SandboxError:  # e.g. another user's sandbox: still report what can be seen
        state = {}
    result = {}
    for name in CLUSTERS:
        info = _cluster_status(name, state)
        _say(info.pop("line"))
        result[name] = info
    return result


def reset_target() -> None:
    """Drop and recreate the empty ``whynot_target`` (owned by ``whynot_owner``)."""
    with _locked():
        if not _running("target"):
            raise SandboxError("the target cluster is not running; run: python -m tasks.sandbox up")
        with _connect("target", "postgres") as conn:
            _drop_database(conn, TARGET_DB)
            _create_target_db(conn)
    _say(f"target: {TARGET_DB} is empty again")


# --------------------------------------------------------------------------- CLI


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tasks.sandbox",
                                     description="Two local PostgreSQL clusters (source and Heroku-like target).")
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up", help="create/start both clusters, load the source, write .sandbox/env")
    up_parser.add_argument("--rows", type=int, default=None,
                           help=f"messages of sample data on the first load (default $SANDBOX_ROWS or {DEFAULT_ROWS:,})")
    sub.add_parser("down", help="stop both clusters (data kept)")
    sub.add_parser("status", help="show whether each cluster runs, and its port")
    sub.add_parser("reset-target", help="drop and recreate the empty target database")
    sub.add_parser("destroy", help="stop both clusters and remove .sandbox/")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    commands = {"up": lambda: up(args.rows), "down": down, "status": status,
                "reset-target": reset_target, "destroy": destroy}
    try:
        commands[args.command]()
    except SandboxError as exc:
        print(f"sandbox: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # psycopg errors and the like: one line, no traceback
        if exc.__class__.__module__.split(".")[0] != "psycopg":
            raise
        print(f"sandbox: error: {_last_line(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
