"""
psql command lines for pyinfra facts and operations.

Only a service name (``service=target``) is ever on the command line: credentials come from the
run's private pg_service.conf (see :mod:`tasks.connections`). SQL goes on stdin (``-f -``).
"""

from __future__ import annotations

import subprocess

from pyinfra.api import QuoteString, StringCommand

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
