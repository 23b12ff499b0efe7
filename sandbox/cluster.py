"""
A sandbox cluster's life cycle: ports, initdb and configuration, the certificate, start and stop.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from pathlib import Path

from sandbox.binaries import tool
from sandbox.paths import (
    CLUSTER_SETTINGS,
    CLUSTERS,
    COMMON_SETTINGS,
    CONF_INCLUDE,
    EXTRA_TARGETS,
    HBA,
    HOST,
    LOG_TAIL_LINES,
    SUPERUSER,
    SandboxError,
    check_owner,
    chown_to_server,
    cluster_data_dir,
    cluster_dir,
    cluster_socket_dir,
    init_marker,
    is_root,
    last_line,
    log_file,
    run_command,
    say,
)
from tasks.core.processes import pid_alive

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


def running_cluster(name: str) -> dict | None:
    """``{"pid", "port"}`` of the cluster's postmaster when it is running, else None."""
    try:
        lines = (cluster_data_dir(name) / "postmaster.pid").read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None
    return {"pid": pid, "port": port} if _pid_alive(pid) else None


# --------------------------------------------------------------------------- cluster creation


def _prepare_dirs(state: dict, name: str) -> None:
    """The cluster folder and the socket folder, 0700 and owned by the server user."""
    cluster, run = cluster_dir(name), cluster_socket_dir(name)
    cluster.mkdir(mode=0o700, parents=True, exist_ok=True)
    if run.parent != cluster:
        run.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    run.mkdir(mode=0o700, exist_ok=True)
    for path in (cluster, run):
        os.chmod(path, 0o700)
    chown_to_server(state, cluster, run)


def _check_reachable(state: dict, name: str) -> None:
    """As root, make sure the server user can reach the cluster folder (all parents traversable)."""
    if not state.get("os_user") or not is_root():
        return
    result = run_command(state, ["test", "-w", str(cluster_dir(name))], what="access check", server=True, check=False)
    if result.returncode != 0:
        raise SandboxError(
            f"OS user {state['os_user']} cannot reach {cluster_dir(name)}; make its parent folders "
            "traversable (chmod o+x)"
        )


def _initdb(state: dict, name: str) -> None:
    """initdb with C.UTF-8 (or no locale where C.UTF-8 is missing); removes a failed attempt."""
    base = [
        tool(state, "initdb", name),
        "-D",
        str(cluster_data_dir(name)),
        "-U",
        SUPERUSER,
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "--encoding=UTF8",
        "--no-sync",
    ]
    for locale in (["--locale=C.UTF-8"], ["--no-locale"]):
        shutil.rmtree(cluster_data_dir(name), ignore_errors=True)
        result = run_command(state, base + locale, what=f"{name}: initdb", server=True, check=False)
        if result.returncode == 0:
            return
        if "locale" not in (result.stderr + result.stdout).lower():
            break
    shutil.rmtree(cluster_data_dir(name), ignore_errors=True)
    raise SandboxError(f"{name}: initdb failed: {last_line(result.stderr or result.stdout)}")


def _write_cluster_file(state: dict, path: Path, text: str, mode: int = 0o600) -> None:
    path.write_text(text)
    os.chmod(path, mode)
    chown_to_server(state, path)


def _configure(state: dict, name: str) -> None:
    """Include pgconverge.conf from postgresql.conf and write pg_hba.conf."""
    data = cluster_data_dir(name)
    with open(data / "postgresql.conf", "a") as conf:
        conf.write(f"\n# pgconverge sandbox settings (rewritten on every start)\ninclude = '{CONF_INCLUDE}'\n")
    header = f"# pgconverge sandbox: {name}\n# TYPE DATABASE USER ADDRESS METHOD\n"
    _write_cluster_file(state, data / "pg_hba.conf", header + "\n".join(HBA[name]) + "\n")


def _write_settings(state: dict, name: str, port: int) -> None:
    """pgconverge.conf: port, socket folder and the sandbox settings."""
    settings = {
        **COMMON_SETTINGS,
        **CLUSTER_SETTINGS[name],
        "port": str(port),
        "unix_socket_directories": f"'{cluster_socket_dir(name)}'",
    }
    text = "".join(f"{key} = {value}\n" for key, value in settings.items())
    _write_cluster_file(state, cluster_data_dir(name) / CONF_INCLUDE, "# written by sandbox.py\n" + text)


def _make_certificate(state: dict, name: str) -> None:
    """A self-signed server.crt/server.key in the data folder (key 0600, owned by the server user)."""
    openssl = shutil.which("openssl")
    if not openssl:
        raise SandboxError("openssl not found; install it: apt-get install openssl")
    data = cluster_data_dir(name)
    run_command(
        state,
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "3650",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(data / "server.key"),
            "-out",
            str(data / "server.crt"),
        ],
        what=f"{name}: openssl",
        cwd=data,
    )
    os.chmod(data / "server.key", 0o600)
    os.chmod(data / "server.crt", 0o644)
    chown_to_server(state, data / "server.key", data / "server.crt")


def _init_cluster(state: dict, name: str) -> None:
    """Create the cluster from scratch (anything half-made before is removed)."""
    say(f"{name}: initdb …")
    _prepare_dirs(state, name)
    _check_reachable(state, name)
    _initdb(state, name)
    _configure(state, name)
    if name.startswith("target"):
        _make_certificate(state, name)
    _write_cluster_file(state, init_marker(name), "ok\n", 0o644)
    if name == "source":
        state["source"]["loaded"] = False


# --------------------------------------------------------------------------- start and stop


def _log_tail(name: str) -> str:
    try:
        lines = log_file(name).read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
    except OSError:
        return "  (no server.log)"
    return "\n".join(f"  {line}" for line in lines) or "  (server.log is empty)"


def _choose_port(state: dict, name: str) -> int:
    """The saved port when free, else a new one (never the other cluster's)."""
    others = {state[c].get("port") for c in (*CLUSTERS, *EXTRA_TARGETS) if c != name and state.get(c)} - {None}
    saved = state[name].get("port")
    if saved and saved not in others and _port_free(saved):
        return saved
    port = _new_port(others)
    if saved:
        say(f"{name}: port {saved} is in use, using {port}")
    return port


def _start(state: dict, name: str) -> None:
    """Start the cluster on a free port; raise with the end of server.log when it fails."""
    port = _choose_port(state, name)
    _prepare_dirs(state, name)
    _write_settings(state, name, port)
    cmd = [
        tool(state, "pg_ctl", name),
        "start",
        "-D",
        str(cluster_data_dir(name)),
        "-l",
        str(log_file(name)),
        "-w",
        "-t",
        "60",
        "-s",
    ]
    result = run_command(state, cmd, what=f"{name}: pg_ctl start", server=True, check=False)
    if result.returncode != 0 or not running_cluster(name):
        raise SandboxError(
            f"{name}: server failed to start on {HOST}:{port}; last lines of {log_file(name)}:\n{_log_tail(name)}"
        )
    state[name]["port"] = port
    say(f"{name}: started on {HOST}:{port}")


def stop_cluster(state: dict, name: str) -> bool:
    """Stop the cluster if it runs; True when it was running."""
    if not running_cluster(name):
        return False
    cmd = [tool(state, "pg_ctl", name), "stop", "-D", str(cluster_data_dir(name)), "-m", "fast", "-w", "-t", "60", "-s"]
    run_command(state, cmd, what=f"{name}: pg_ctl stop", server=True)
    return True


def _major(state: dict, name: str) -> int:
    """The major version of the binaries the cluster is set to run (``bin/../PG_VERSION`` aside)."""
    done = run_command(state, [tool(state, "postgres", name), "--version"], what=f"{name}: postgres --version")
    found = re.search(r"\)\s*(\d+)", done.stdout)  # "postgres (PostgreSQL) 15.18 (Debian …)"
    if found is None:
        raise SandboxError(f"{name}: postgres --version printed no version ({last_line(done.stdout)})")
    return int(found.group(1))


def ensure_cluster(state: dict, name: str) -> None:
    """Initialise (if needed) and start (if not running) one cluster."""
    check_owner(name)
    version = cluster_data_dir(name) / "PG_VERSION"
    if version.exists() and init_marker(name).exists() and version.read_text().strip() != str(_major(state, name)):
        say(
            f"{name}: PostgreSQL {version.read_text().strip()} → {_major(state, name)}: "
            "a new cluster (its data was throw-away)"
        )
        stop_cluster(state, name)
        init_marker(name).unlink()
    if not init_marker(name).exists() or not version.exists():
        stop_cluster(state, name)
        _init_cluster(state, name)
    running = running_cluster(name)
    if running:
        state[name]["port"] = running["port"]
        say(f"{name}: already running on {HOST}:{running['port']}")
    else:
        _start(state, name)
