"""
Lint: squawk (PyPI ``squawk-cli``, pinned in requirements.txt) on each pending file, by path, with
the target's PostgreSQL version (``--pg-version``) and its JSON reporter. The rules pgconverge makes
moot are left out: it sets ``lock_timeout``/``statement_timeout`` itself before every statement, and
runs every file without ``-- pgconverge:no-transaction`` in a transaction (``--assume-in-transaction``).
:func:`parse_findings` is pure; :func:`lint` runs the binary beside this Python.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MOOT = ("require-lock-timeout", "require-statement-timeout", "require-timeout-settings")


@dataclass(frozen=True)
class Finding:
    file: str
    line: int  # 1-based
    rule: str
    message: str

    @property
    def text(self) -> str:
        return f"{self.file}:{self.line} squawk {self.rule}: {self.message}"


def squawk_binary() -> str | None:
    beside = Path(sys.executable).parent / "squawk"
    return str(beside) if beside.exists() else shutil.which("squawk")


def parse_findings(output: str, names: dict[str, str]) -> list[Finding]:
    """squawk's JSON (0-based lines) as findings; ``names``: path as given → file name."""
    found = []
    for item in json.loads(output or "[]"):
        file = names.get(item.get("file", ""), Path(item.get("file", "")).name)
        found.append(
            Finding(file, int(item.get("line", 0)) + 1, item.get("rule_name", ""), (item.get("message") or "").strip())
        )
    return sorted(found, key=lambda f: (f.file, f.line, f.rule))


def command(binary: str, paths: list[str], pg_version: str, in_transaction: bool) -> list[str]:
    args = [binary, "--reporter", "json", "--pg-version", pg_version, "--exclude", ",".join(MOOT)]
    if in_transaction:
        args.append("--assume-in-transaction")
    return args + ["--", *paths]


def lint(migrations: list, pg_version: str) -> tuple[list[Finding], str]:
    """(findings, note): the note says why nothing was linted ('' when it ran)."""
    binary = squawk_binary()
    if binary is None:
        return [], "squawk not installed (pip install -r requirements.txt): files not linted"
    found: list[Finding] = []
    for in_transaction in (True, False):
        group = [m for m in migrations if m.no_transaction != in_transaction]
        if not group:
            continue
        names = {str(Path(m.path).resolve()): m.filename for m in group}
        try:
            done = subprocess.run(
                command(binary, list(names), pg_version, in_transaction),
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
                env={"PATH": "/usr/bin:/bin"},
                cwd="/",
            )
            if not done.stdout.strip() and done.stderr.strip():
                return found, f"squawk failed ({done.stderr.strip().splitlines()[0]}): files not linted"
            found += parse_findings(done.stdout, names)
        except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
            return found, f"squawk failed ({exc}): files not linted"
    return found, ""
