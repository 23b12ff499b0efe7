"""
The sandbox's PostgreSQL binaries: which initdb/pg_ctl/postgres each cluster runs, and where the
servers find them when the clusters live outside the checkout.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from pathlib import Path

from sandbox.paths import CLUSTER_MAJOR, SANDBOX, TOOLS, SandboxError, clean_env, say


def server_bindir(bindir: str, root: Path) -> str:
    """
    The binaries the servers run. When the clusters live outside the checkout (the server OS user
    cannot reach it), a PostgreSQL that ``make setup`` unpacked into the checkout's ``.tools`` is
    out of its reach too: it is copied beside the clusters once (readable by everyone, like any
    installed PostgreSQL) and run from there.
    """
    path = Path(bindir)
    if root == SANDBOX or TOOLS not in path.parents:
        return bindir
    tree = path.parent
    copy = root / tree.name
    if not (copy / "bin" / "initdb").is_file():
        partial = root / f".{tree.name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(tree, partial, symlinks=True)
        for folder, dirs, files in os.walk(partial):
            os.chmod(folder, 0o755)
            for name in files:
                file = Path(folder) / name
                if not file.is_symlink():
                    os.chmod(file, 0o755 if os.access(file, os.X_OK) else 0o644)
        os.replace(partial, copy)
        say(f"{tree.name}: copied to {copy} (the server user cannot reach {tree})")
    return str(copy / "bin")


def has_initdb(bindir: str | Path | None) -> bool:
    return bindir is not None and str(bindir) != "" and (Path(bindir) / "initdb").is_file()


def _version_key(path: str) -> tuple:
    return tuple(int(part) for part in re.findall(r"\d+", path))


def find_bindir(major: int | None = None) -> str:
    """The folder of initdb/pg_ctl/postgres: of that major when given (the project's .tools/pgN,
    then the system's), else pg_config, then /usr/lib/postgresql/*, then PATH."""
    if major is not None:
        for candidate in (
            TOOLS / f"pg{major}" / "bin",
            Path(f"/usr/lib/postgresql/{major}/bin"),
            Path(f"/usr/pgsql-{major}/bin"),
        ):
            if has_initdb(candidate):
                return str(candidate)
        raise SandboxError(
            f"PostgreSQL {major} server binaries (initdb) not found: run make setup "
            f"(it unpacks PostgreSQL 16 and 17 into {TOOLS})"
        )
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, env=clean_env(), check=False)
        if result.returncode == 0 and has_initdb(result.stdout.strip()):
            return result.stdout.strip()
    candidates = glob.glob("/usr/lib/postgresql/*/bin") + glob.glob("/usr/pgsql-*/bin")
    for found in sorted(candidates, key=_version_key, reverse=True):
        if has_initdb(found):
            return found
    initdb = shutil.which("initdb")
    if initdb:
        return str(Path(initdb).parent)
    raise SandboxError("PostgreSQL server binaries (initdb) not found; install them: apt-get install postgresql")


def cluster_bindir(name: str) -> str:
    """The binaries a cluster runs: its own major's (the source falls back to any installed)."""
    try:
        return find_bindir(CLUSTER_MAJOR[name])
    except SandboxError:
        if name != "source":
            raise
        return find_bindir()


def tool(state: dict, name: str, cluster: str = "source") -> str:
    """A client/server program, preferring the cluster's bindir."""
    candidate = Path((state.get(cluster) or {}).get("bindir") or state["bindir"]) / name
    if candidate.is_file():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise SandboxError(f"{name} not found; install it: apt-get install postgresql-client")
    return found
