"""
The sandbox's places and people: its folders (``.sandbox/``, or ``SANDBOX_DIR`` when set, e.g. one per
parallel test worker) and the OS user the servers run as when this runs as root. Its own state files
are in sandbox/state.py, the PostgreSQL binaries in sandbox/binaries.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from tasks.core.errors import ActionableError

ROOT = Path(__file__).resolve().parent.parent
SANDBOX = Path(os.environ.get("SANDBOX_DIR") or ROOT / ".sandbox").absolute()
STATE_FILE = SANDBOX / "state.json"
WORKERS = SANDBOX / "workers"  # parallel test workers' own sandboxes (SANDBOX_DIR=.sandbox/workers/gwN)
ENV_FILE = SANDBOX / "env"
LOCK_FILE = SANDBOX / ".lock"
MIGRATIONS_DIR = ROOT / "files" / "migrations"
SEED_DIR = ROOT / "files" / "seed"
SEED_TABLES = ("users", "rooms", "room_participants")
DATA_TABLES = ("users", "rooms", "room_participants", "messages")

CLUSTERS = ("source", "target")
# Each cluster's PostgreSQL major: the source like docker-compose.yml's postgres:15, the target
# like Heroku's default (17). "target16" is started only on demand (sandbox.up_target(16)).
CLUSTER_MAJOR = {"source": 15, "target": 17, "target16": 16}
EXTRA_TARGETS = ("target16",)
TOOLS = ROOT / ".tools"
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
CLUSTER_SETTINGS["target16"] = CLUSTER_SETTINGS["target"]
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
HBA["target16"] = HBA["target"]
CONF_INCLUDE = "pgconverge.conf"


class SandboxError(ActionableError, RuntimeError):
    """A problem the user can act on; the message is one line (never holding a password)."""


# --------------------------------------------------------------------------- output


def say(text: str) -> None:
    print(text, flush=True)


# --------------------------------------------------------------------------- paths


_clusters_root: dict[Path, Path] = {}  # this process's choice per sandbox folder (see clusters_root)


def _fallback_root(base: Path | None = None) -> Path:
    """Where the clusters live outside the checkout: a folder of this sandbox's own under ``base``
    (``SANDBOX_CLUSTERS_DIR``), else under /var/tmp (kept across reboots, like the checkout), reachable
    by anyone."""
    if base is None:
        base = Path("/var/tmp") if os.path.isdir("/var/tmp") else Path(tempfile.gettempdir())
    return base / f"pgconverge-clusters-{hashlib.sha1(str(SANDBOX).encode()).hexdigest()[:10]}"


def clusters_root() -> Path:
    """The folder holding ``source/`` and ``target/``: ``.sandbox/``, or the place ``up`` chose
    (and saved in state.json) because the server OS user cannot reach the checkout."""
    if SANDBOX not in _clusters_root:
        try:
            saved = json.loads(STATE_FILE.read_text()).get("clusters_dir")
        except (OSError, ValueError, AttributeError):
            saved = None
        _clusters_root[SANDBOX] = Path(saved) if saved else SANDBOX
    return _clusters_root[SANDBOX]


def _server_can_reach(os_user: str, folder: Path) -> bool:
    """Whether ``os_user`` can enter ``folder`` (every parent traversable)."""
    cmd = _as_server({"os_user": os_user}, ["test", "-x", str(folder)])
    done = subprocess.run(cmd, capture_output=True, env=clean_env(), stdin=subprocess.DEVNULL, check=False)
    return done.returncode == 0


def choose_clusters_root(os_user: str | None, saved: str | None) -> Path:
    """
    Where the clusters live, decided by ``up``: where they already are; else, for a new sandbox, a
    folder of its own under ``SANDBOX_CLUSTERS_DIR`` when that is set (the test workers' on tmpfs, see
    tests/conftest.py); else ``.sandbox/`` when the servers can reach it (not root, or the server OS
    user can traverse the checkout's folders); else a folder outside the checkout that they can reach
    (as root in a checkout under a private folder: /root, a ``mktemp -d`` folder), so no chmod is
    asked of anyone.
    """
    chosen = SANDBOX
    fresh = not any((SANDBOX / name / "data").exists() for name in CLUSTERS)
    wanted = os.environ.get("SANDBOX_CLUSTERS_DIR", "").strip()
    if saved and (Path(saved) / "source").exists():
        chosen = Path(saved)
    elif fresh and wanted:
        chosen = _own_folder(_fallback_root(Path(wanted)))
    elif os_user and is_root() and fresh and not _server_can_reach(os_user, SANDBOX):
        chosen = _own_folder(_fallback_root())
    _clusters_root[SANDBOX] = chosen
    return chosen


def _own_folder(chosen: Path) -> Path:
    """``chosen`` made (or found) as this user's, 0755: the server user enters it; each cluster folder
    inside is 0700."""
    chosen.mkdir(mode=0o755, parents=True, exist_ok=True)
    if chosen.is_symlink() or chosen.lstat().st_uid != os.geteuid():  # made by someone else
        raise SandboxError(f"{chosen} (for this checkout's clusters) belongs to someone else: remove it")
    os.chmod(chosen, 0o755)
    return chosen


def cluster_dir(name: str) -> Path:
    return clusters_root() / name


def cluster_data_dir(name: str) -> Path:
    return cluster_dir(name) / "data"


def log_file(name: str) -> Path:
    return cluster_dir(name) / "server.log"


def init_marker(name: str) -> Path:
    """Written after initdb and all configuration succeeded; its absence means "redo"."""
    return cluster_dir(name) / "initialized"


def cluster_socket_dir(name: str) -> Path:
    """``.sandbox/<name>/run``, or a short folder in the temp dir when that path is too long."""
    preferred = cluster_dir(name) / "run"
    plain = re.fullmatch(r"[A-Za-z0-9._/+-]+", str(preferred))  # nothing to quote in config/conninfo
    if plain and len(str(preferred)) + len("/.s.PGSQL.65535") <= MAX_SOCKET_PATH:
        return preferred
    digest = hashlib.sha1(str(SANDBOX).encode()).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / f"pgconverge-sandbox-{digest}" / name


# --------------------------------------------------------------------------- binaries and users


def is_root() -> bool:
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
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0 and not _user_exists(name):
        raise SandboxError(f"could not create the OS user {name!r}: {last_line(result.stderr)}")


def _data_dir_owner() -> str | None:
    """The (non-root) owner of an existing cluster's data folder, if any."""
    for name in CLUSTERS:
        try:
            uid = cluster_data_dir(name).stat().st_uid
        except OSError:
            continue
        if uid != 0:
            with contextlib.suppress(KeyError):
                return pwd.getpwuid(uid).pw_name
    return None


def server_os_user() -> str | None:
    """Who runs the servers: None (ourselves) unless root, then the existing clusters' owner,
    else postgres, else pgconverge (created)."""
    if not is_root():
        return None
    existing = _data_dir_owner()
    if existing:
        return existing
    if _user_exists("postgres"):
        return "postgres"
    if not _user_exists(FALLBACK_OS_USER):
        _create_system_user(FALLBACK_OS_USER)
    return FALLBACK_OS_USER


def clean_env() -> dict:
    """Our environment without PG* variables, so nothing overrides the explicit settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _as_server(state: dict, cmd: list[str]) -> list[str]:
    """``cmd`` run as the server OS user (via runuser or setpriv) when we are root."""
    user = state.get("os_user")
    if not user or not is_root():
        return cmd
    if shutil.which("runuser"):
        return ["runuser", "-u", user, "--", *cmd]
    if shutil.which("setpriv"):
        return ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--", *cmd]
    raise SandboxError("running as root needs runuser or setpriv (apt-get install util-linux)")


def run_command(
    state: dict, cmd: list[str], *, what: str, server: bool = False, cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    """Run ``cmd`` (as the server user when ``server``); on failure raise with stderr's last line."""
    full = _as_server(state, cmd) if server else cmd
    result = subprocess.run(
        full,
        capture_output=True,
        text=True,
        cwd=cwd or cluster_dir("."),
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if check and result.returncode != 0:
        raise SandboxError(f"{what} failed: {last_line(result.stderr or result.stdout)}")
    return result


def chown_to_server(state: dict, *paths: Path) -> None:
    """Give ``paths`` to the server OS user (no-op unless root)."""
    user = state.get("os_user")
    if not user or not is_root():
        return
    entry = pwd.getpwnam(user)
    for path in paths:
        os.chown(path, entry.pw_uid, entry.pw_gid)


def check_owner(name: str) -> None:
    """A non-root user cannot run a cluster made for another user (e.g. by root)."""
    data = cluster_data_dir(name)
    if not is_root() and data.exists() and data.stat().st_uid != os.geteuid():
        owner = pwd.getpwuid(data.stat().st_uid).pw_name
        raise SandboxError(f"{data} belongs to {owner}; run as root or as {owner}, or destroy the sandbox")
