"""
The sandbox's own files: state.json (ports, passwords), the env file the deploy reads, and the
lock that serialises changes between processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
from pathlib import Path

from sandbox.paths import (
    ENV_FILE,
    HOST,
    LOCK_FILE,
    SANDBOX,
    SOURCE_DB,
    STATE_FILE,
    SUPERUSER,
    TARGET_DB,
    TARGET_OWNER,
    SandboxError,
    is_root,
)


def _match_sandbox_owner(path: Path) -> None:
    """As root in a sandbox made by a normal user, keep that user the owner of ``path``."""
    if is_root():
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
        raise SandboxError(f"{STATE_FILE} is not valid JSON; run: python -m sandbox destroy") from None


def save_state(state: dict) -> None:
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


def demo_folders() -> dict[str, Path]:
    """Where the demo's backups, reports and state go: under the sandbox, never the user's own
    ``backups/``, ``reports/``, ``plans/`` and ``.pgconverge/``."""
    demo = SANDBOX / "demo"
    return {
        "BACKUP_DIR": demo / "backups",
        "REPORT_DIR": demo / "reports",
        "STATE_DIR": demo / "state",
        "PLANS_DIR": demo / "plans",
    }


def write_env(state: dict) -> None:
    lines = ["# written by python -m sandbox up: the embedded default (two local clusters)"]
    lines += [f"{key}={value}" for key, value in database_urls(state).items()]
    lines += ["# the demo's files stay in the sandbox (python -m sandbox destroy removes them)"]
    lines += [f"{key}={value}" for key, value in demo_folders().items()]
    _write_private(ENV_FILE, "\n".join(lines) + "\n")


@contextlib.contextmanager
def locked():
    """Serialise sandbox changes between processes (e.g. parallel test workers)."""
    SANDBOX.mkdir(mode=0o755, parents=True, exist_ok=True)
    if SANDBOX.stat().st_uid == os.geteuid():
        os.chmod(SANDBOX, 0o755)  # the server user must traverse it; secrets inside are 0600
    try:
        handle = open(LOCK_FILE, "a")  # noqa: SIM115 - the with below holds it (the lock's lifetime)
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
