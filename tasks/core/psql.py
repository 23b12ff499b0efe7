"""
psql command lines for pyinfra facts and operations.

Only a service name (``service=target``) is ever on the command line: credentials come from the
run's private pg_service.conf (see :mod:`tasks.core.connections`). SQL goes on stdin (``-f -``).
"""

from __future__ import annotations

import subprocess

from pyinfra import host
from pyinfra.api import FactBase, QuoteString, StringCommand

FIELD_SEPARATOR = "\t"


def psql(service: str, *extra: str, **connector_arguments) -> StringCommand:
    """``psql`` reading a script from stdin: no psqlrc, stop on the first error, tab-separated rows."""
    return StringCommand(
        "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-A", "-t", "-F", QuoteString(FIELD_SEPARATOR),
        "-d", QuoteString(f"service={service}"), *extra, "-f", "-", **connector_arguments,
    )


def never_fails(command: StringCommand) -> StringCommand:
    """Run ``command`` so that a failure becomes output (``ERROR<TAB>message``) instead of a failed fact."""
    return StringCommand(
        "(", command, "2>&1", "||", "echo", QuoteString("pgconverge-error"), ")",
    )


def split_error(lines: list[str]) -> tuple[list[str], list[str] | None]:
    """Separate the output of a :func:`never_fails` command into (rows, error lines or None)."""
    if lines and lines[-1].strip() == "pgconverge-error":
        messages = [line.strip() for line in lines[:-1] if line.strip()]
        return [], messages or ["psql failed"]
    # On success stderr (merged in) can only hold psql's own "psql:<stdin>:N: NOTICE: ..." lines.
    return [line for line in lines if not line.startswith("psql:")], None


def run_script(dsn: str, script: str) -> subprocess.CompletedProcess:
    """Run a script with psql in this process (``dsn`` names a service, never a password).
    A missing psql comes back as a failed run whose stderr says how to install it."""
    command = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-A", "-t", "-F", FIELD_SEPARATOR, "-d", dsn, "-f", "-"]
    try:
        return subprocess.run(command, input=script, capture_output=True, text=True)
    except FileNotFoundError:
        return subprocess.CompletedProcess(command, 127, "", "psql is not installed: install the PostgreSQL client "
                                                              "(apt-get install postgresql-client)")


class FactError(dict):
    """What a fact returns when psql failed: ``{"error": "first error line", "lines": [all of psql's lines]}``."""

    @classmethod
    def from_lines(cls, lines: list[str]) -> "FactError":
        errors = [m for m in lines if "ERROR" in m or "FATAL" in m or "error" in m]
        return cls(error=(errors or lines)[0], lines=lines)


class PsqlFact(FactBase):
    """Base: run ``sql`` (stdin) with psql against ``service``; rows are tab-separated lines."""

    abstract = True
    sql = "SELECT 1"

    def requires_command(self, *args, **kwargs) -> str:
        return "psql"

    def command(self, service: str) -> StringCommand:
        return never_fails(psql(service))

    def process(self, output: list[str]):
        rows, error = split_error(output)
        if error:
            return FactError.from_lines(error)
        return self.parse([line.split("\t") for line in rows])

    def parse(self, rows: list[list[str]]):
        return rows


def read(fact: type[PsqlFact], service: str, sql: str | None = None):
    """Read ``fact`` from ``service``; a missing psql binary comes back as a FactError."""
    value = host.get_fact(fact, service=service, _stdin=sql or fact.sql)
    if value is None:
        return FactError(error="psql is not installed: install the PostgreSQL client (apt-get install postgresql-client)", lines=[])
    return value
