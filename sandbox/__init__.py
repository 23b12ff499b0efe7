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
``pgconverge`` system user created on demand) via ``runuser``. When that user cannot reach the
checkout (under /root or a ``mktemp -d`` folder), the clusters live in a folder of this checkout's
own under /var/tmp (``clusters_dir`` in state.json), and ``up`` says so.

CLI: ``python -m sandbox up [--rows N] | down | status | reset-target | destroy``.
Errors are one line on stderr (plus the end of server.log when a server fails) and exit 1.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

from sandbox.binaries import cluster_bindir, find_bindir, has_initdb, server_bindir
from sandbox.cluster import ensure_cluster, running_cluster, stop_cluster
from sandbox.databases import (  # noqa: F401  (the public API)
    admin_conninfo,
    advance_sequences,
    apply_migrations,
    connect_admin,
    create_target_db,
    drop_database,
    ensure_source_data,
    ensure_target_db,
    load_seed,
)
from sandbox.paths import (  # noqa: F401
    CLUSTER_MAJOR,
    CLUSTERS,
    DATA_TABLES,
    ENV_FILE,
    EXTRA_TARGETS,
    HOST,
    ROOT,
    SANDBOX,
    SEED_TABLES,
    SOURCE_DB,
    STATE_FILE,
    STATE_VERSION,
    SUPERUSER,
    TARGET_DB,
    TARGET_OWNER,
    WORKERS,
    SandboxError,
    choose_clusters_root,
    cluster_data_dir,
    cluster_dir,
    cluster_socket_dir,
    clusters_root,
    init_marker,
    is_root,
    say,
    server_os_user,
)
from sandbox.state import database_urls, load_state, locked, save_state, write_env

# --------------------------------------------------------------------------- commands


def _shown(path: Path) -> str:
    """``path`` relative to the checkout when inside it (``SANDBOX_DIR`` may be elsewhere)."""
    return str(path.relative_to(ROOT)) if ROOT in path.parents else str(path)


def _initial_state(previous: dict | None) -> dict:
    """The saved state completed with anything missing (bindir, OS user, passwords)."""
    state = dict(previous or {})
    state["version"] = STATE_VERSION
    if not has_initdb(state.get("bindir")):
        state["bindir"] = cluster_bindir("source")
    state["os_user"] = (state.get("os_user") or server_os_user()) if is_root() else None
    root = choose_clusters_root(state["os_user"], state.get("clusters_dir"))
    state["clusters_dir"] = None if root == SANDBOX else str(root)
    for name in CLUSTERS:
        cluster = dict(state.get(name) or {})
        cluster["bindir"] = server_bindir(cluster_bindir(name), root)
        cluster.setdefault("password", secrets.token_hex(24))
        cluster["socket_dir"] = str(cluster_socket_dir(name))
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
    with locked():
        state = _initial_state(load_state())
        save_state(state)
        for name in CLUSTERS:
            ensure_cluster(state, name)
            save_state(state)
        ensure_source_data(state, rows)
        ensure_target_db(state)
        save_state(state)
        write_env(state)
    if state["clusters_dir"]:
        wanted = os.environ.get("SANDBOX_CLUSTERS_DIR", "").strip()
        under_wanted = bool(wanted) and Path(state["clusters_dir"]).parent == Path(wanted).absolute()
        why = "SANDBOX_CLUSTERS_DIR" if under_wanted else f"OS user {state['os_user']} cannot reach {SANDBOX}"
        say(f"the clusters live in {state['clusters_dir']}: {why} (python -m sandbox destroy removes both)")
    say(f"wrote {_shown(ENV_FILE)} (sandbox up in {time.monotonic() - started:.1f}s)")
    return {**state, "env": database_urls(state)}


def up_target(major: int) -> str:
    """Another Heroku-like target cluster, of PostgreSQL ``major`` (16: the one Heroku still offers
    besides the default 17), started on demand (tests): its TARGET_DATABASE_URL (with a password).
    Run ``up`` first. Stopped by ``down``, removed by ``destroy``."""
    name = f"target{major}"
    if CLUSTER_MAJOR.get(name) != major:
        raise SandboxError(f"no sandbox target for PostgreSQL {major}: choose one of {sorted(CLUSTER_MAJOR.values())}")
    with locked():
        state = load_state()
        if not state:
            raise SandboxError("no sandbox yet: run python -m sandbox up")
        cluster = dict(state.get(name) or {})
        cluster.setdefault("password", secrets.token_hex(24))
        cluster.update(socket_dir=str(cluster_socket_dir(name)), bindir=cluster_bindir(name))
        state[name] = cluster
        save_state(state)
        ensure_cluster(state, name)
        save_state(state)
        ensure_target_db(state, name)
    return f"postgresql://{TARGET_OWNER}:{cluster['password']}@{HOST}:{state[name]['port']}/{TARGET_DB}?sslmode=require"


def _stop_state() -> dict:
    """Enough state to run pg_ctl as the right user, even without state.json."""
    state = load_state() or {}
    if not has_initdb(state.get("bindir")):
        state["bindir"] = find_bindir()
    if is_root() and not state.get("os_user"):
        state["os_user"] = server_os_user()
    return state


def down() -> None:
    """Stop both clusters (data kept). Harmless when stopped or when there is no sandbox."""
    if not SANDBOX.exists():
        say("no sandbox: nothing to stop")
        return
    with locked():
        state = _stop_state()
        for name in (*CLUSTERS, *(extra for extra in EXTRA_TARGETS if cluster_data_dir(extra).exists())):
            say(f"{name}: stopped" if stop_cluster(state, name) else f"{name}: not running")
    _each_worker("down")


def _each_worker(command: str) -> None:
    """The parallel test workers' own sandboxes (``.sandbox/workers/gwN``, see tests/conftest.py) follow
    ``down`` and ``destroy``."""
    for folder in sorted(WORKERS.glob("*/state.json")):
        say(f"test worker {folder.parent.name}:")
        env = {**os.environ, "SANDBOX_DIR": str(folder.parent)}
        subprocess.run([sys.executable, "-m", "sandbox", command], env=env, cwd=ROOT, check=False)


def destroy() -> None:
    """Stop both clusters and remove .sandbox/ (and the clusters' folder outside it, and a temp
    socket folder, if they were used)."""
    if SANDBOX.exists():
        down()
    _each_worker("destroy")
    for name in (*CLUSTERS, *EXTRA_TARGETS):
        run = cluster_socket_dir(name)
        if run.parent != cluster_dir(name):
            shutil.rmtree(run.parent, ignore_errors=True)
    if clusters_root() != SANDBOX:
        shutil.rmtree(clusters_root(), ignore_errors=True)
        say(f"removed {clusters_root()}")
    shutil.rmtree(SANDBOX, ignore_errors=True)
    say(f"removed {_shown(SANDBOX)}")


def _cluster_status(name: str, state: dict) -> dict:
    """One cluster's ``initialized``/``running``/``port``/``data_dir`` and a line describing it."""
    try:
        running = running_cluster(name)
        initialised = init_marker(name).exists()
    except PermissionError:
        owner = pwd.getpwuid(SANDBOX.stat().st_uid).pw_name
        return {
            "initialized": None,
            "running": None,
            "port": None,
            "data_dir": str(cluster_data_dir(name)),
            "line": f"{name}: unknown ({SANDBOX} belongs to {owner})",
        }
    port = running["port"] if running else (state.get(name) or {}).get("port")
    if running:
        line = f"{name}: running on {HOST}:{port}"
    elif initialised:
        line = f"{name}: stopped (port {port})"
    else:
        line = f"{name}: not initialised (run: python -m sandbox up)"
    return {
        "initialized": initialised,
        "running": bool(running),
        "port": port,
        "data_dir": str(cluster_data_dir(name)),
        "line": line,
    }


def status() -> dict:
    """Print and return each cluster's state: initialized, running, port, data_dir."""
    try:
        state = load_state() or {}
    except SandboxError:  # e.g. another user's sandbox: still report what can be seen
        state = {}
    result = {}
    for name in CLUSTERS:
        info = _cluster_status(name, state)
        say(info.pop("line"))
        result[name] = info
    return result


def reset_target() -> None:
    """Drop and recreate the empty ``whynot_target`` (owned by ``whynot_owner``)."""
    with locked():
        if not running_cluster("target"):
            raise SandboxError("the target cluster is not running; run: python -m sandbox up")
        with connect_admin("target", "postgres") as conn:
            drop_database(conn, TARGET_DB)
            create_target_db(conn)
    say(f"target: {TARGET_DB} is empty again")
