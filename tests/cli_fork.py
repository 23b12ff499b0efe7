"""
The real ``pyinfra`` CLI, without a new interpreter per run (issue 26: ~280 CLI runs, each spending
most of its CPU importing pyinfra, gevent, psycopg and pglast).

A helper process (one per test process, started on first use) imports those libraries once, and
for each run forks a child that becomes the CLI: the test's argv, environment, working folder and
file descriptors, then ``pyinfra_cli.main.main()``, the console script's own entry point, exactly
as ``.venv/bin/pyinfra`` calls it. The project's modules (deploy.py, tasks/) are imported in the
child, fresh every run. The exit status, stdout and stderr are what ``subprocess.run`` returns.

``PGC_REAL_CLI=1`` runs every deploy as a separate process again (``subprocess.run``).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

PRELOAD = ("pyinfra_cli.main", "pyinfra.api", "pyinfra.operations.server", "pyinfra.facts.server", "psycopg",
           "pglast", "dotenv", "click")

_helper: dict[str, object] = {}
RUNS: dict[str, int] = {}  # PGC_COUNT_CLI: CLI runs per test, forked or not (tests/conftest.py writes them)


def _serve(path: str) -> None:
    """The helper: import, then fork one CLI run per request (never runs anything itself)."""
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path)
    listener.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the per-run waiters reap themselves
    print("ready", flush=True)
    parent = os.getppid()
    listener.settimeout(1.0)
    while True:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            if os.getppid() != parent:  # the test process is gone (killed): so is the helper
                os._exit(0)
            continue
        conn.settimeout(None)
        if os.fork() == 0:  # the waiter: forks the run, reports its pid and its exit status
            listener.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            _wait_for_run(conn)
            os._exit(0)
        conn.close()


def _wait_for_run(conn: socket.socket) -> None:
    message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
    request = json.loads(message)
    pid = os.fork()
    if pid == 0:
        conn.close()
        _become_the_cli(request, fds)
    for fd in fds:
        os.close(fd)
    conn.send(f"pid {pid}".encode())
    _, status = os.waitpid(pid, 0)
    try:
        conn.send(f"exit {os.waitstatus_to_exitcode(status)}".encode())
    except OSError:  # the test gave up waiting (a timeout): nobody to tell
        pass


def _become_the_cli(request: dict, fds: list[int]) -> None:
    code = 1
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(signum, signal.SIG_IGN if signum == signal.SIGPIPE else signal.SIG_DFL)
        if request["new_session"]:
            os.setsid()
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = list(request["argv"])
        # the child's own streams for the rest of its life (os._exit below): no context to close them in
        sys.stdin = open(0, closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        from pyinfra_cli.main import main

        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - as the interpreter would: the traceback, status 1
        import traceback

        traceback.print_exc()
    finally:
        code = _finalise(code)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _finalise(code: int) -> int:
    """What the interpreter does on its way out: wait for the other threads, then the exit handlers
    (the run's summary is one); a handler's SystemExit sets the status, as it would."""
    import atexit
    import threading

    with contextlib.suppress(BaseException):
        threading._shutdown()  # type: ignore[attr-defined]
    try:
        atexit._run_exitfuncs()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else code
    return code


def _helper_socket() -> str | None:
    """The helper's socket, started on first use (None when it cannot start: then plain processes)."""
    if "path" in _helper:
        return _helper["path"] if _helper.get("process") else None  # type: ignore[return-value]
    folder = tempfile.mkdtemp(prefix="pgc-cli-")
    path = os.path.join(folder, "socket")
    root = Path(__file__).resolve().parents[1]
    process = subprocess.Popen([sys.executable, "-c", f"from tests.cli_fork import _serve; _serve({path!r})"],
                               cwd=root, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                               env={k: v for k, v in os.environ.items() if not k.startswith("PG")})
    _helper["path"] = path
    ready = process.stdout.readline().strip() if process.stdout else ""
    if ready != "ready":
        process.kill()
        return None
    _helper["process"] = process

    def stop() -> None:
        process.kill()
        process.wait()
        for leftover in (path, folder):
            try:
                os.unlink(leftover) if leftover == path else os.rmdir(leftover)
            except OSError:
                pass

    atexit.register(stop)
    return path


def run(argv: list[str], *, cwd: Path | str, env: dict[str, str], timeout: float,
        new_session: bool = False) -> subprocess.CompletedProcess:
    """``subprocess.run(argv, cwd=, env=, capture_output=True, text=True, timeout=)`` for the pyinfra CLI."""
    if os.environ.get("PGC_COUNT_CLI"):
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0]
        RUNS[test] = RUNS.get(test, 0) + 1
    # a PYTHONPATH of the test's own (a sitecustomize hook) needs a new interpreter: the helper started without it
    own_path = env.get("PYTHONPATH", "") != os.environ.get("PYTHONPATH", "")
    path = None if os.environ.get("PGC_REAL_CLI") or own_path else _helper_socket()
    if path is None:
        return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                              start_new_session=new_session, check=False)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as conn:
        conn.connect(path)
        request = {"argv": list(argv), "cwd": str(cwd), "env": env, "new_session": new_session}
        socket.send_fds(conn, [json.dumps(request).encode()], [0, out.fileno(), err.fileno()])
        conn.settimeout(30)
        pid = int(conn.recv(64).decode().split()[1])
        conn.settimeout(timeout)
        try:
            code = int(conn.recv(64).decode().split()[1])
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)
            raise subprocess.TimeoutExpired(argv, timeout) from None
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(argv, code, _text(out.read()), _text(err.read()))


def _text(data: bytes) -> str:
    """As ``text=True`` reads it: decoded, universal newlines."""
    return data.decode(errors="replace").replace("\r\n", "\n").replace("\r", "\n")
