"""
What a failed migration says: one line naming the file, the line of the statement, what happened and
the way forward (:class:`MigrationError`), from the server's error or from the engine's own checks.
"""

from __future__ import annotations

import re

import psycopg

from tasks.core.errors import ActionableError
from tasks.migrations.files import Migration
from tasks.migrations.sqlsplit import line_of

# duplicate_table, duplicate_object, duplicate_function, duplicate_schema, duplicate_database
ALREADY_EXISTS = ("42P07", "42710", "42723", "42P06", "42P04")


class MigrationError(ActionableError, RuntimeError):
    """A migration could not be applied; the message is one line naming the file and the fix.
    ``sqlstate`` and ``offset``: the server's code and where the failing statement starts in the file
    (:mod:`tasks.migrations.retry` retries a lock timeout)."""

    sqlstate: str | None = None
    offset: int | None = None


def privilege_fix(message: str) -> str:
    """What a "permission denied for <kind> <name>" needs: a GRANT to the target's role, not a file edit."""
    found = re.match(r"permission denied for (schema|table|sequence|database|function) (.+)", message)
    if not found:
        return (
            "the target's role lacks a privilege this file needs (the file is not at fault): grant it, "
            "or use the owner's URL, and run again"
        )
    kind, name = found.groups()
    grant = {"schema": "USAGE, CREATE", "database": "CREATE", "function": "EXECUTE"}.get(kind, "ALL")
    return (
        f"the target's role lacks a privilege on {kind} {name} (the file is not at fault): "
        f"GRANT {grant} ON {kind.upper()} {name} TO that role, or use the owner's URL, and run again"
    )


def failure(migration: Migration, exc: psycopg.Error, base_offset: int | None = None, shift: int = 0) -> MigrationError:
    diag = exc.diag
    message = (diag.message_primary or str(exc)).strip()
    where = f"migration {migration.filename}"
    if diag.statement_position and int(diag.statement_position) > shift:
        where += f" line {line_of(migration.sql, (base_offset or 0) + int(diag.statement_position) - 1 - shift)}"
    elif base_offset is not None:
        where += f" line {line_of(migration.sql, base_offset)}"
    detail = f" ({diag.message_detail.strip()})" if diag.message_detail else ""
    if isinstance(exc, psycopg.errors.LockNotAvailable):
        fix = "a lock was not granted within MIGRATION_LOCK_TIMEOUT: run again when the table is less busy"
    elif isinstance(exc, psycopg.errors.QueryCanceled):
        fix = "it ran longer than MIGRATION_STATEMENT_TIMEOUT: raise the limit or split the migration"
    elif exc.sqlstate in ALREADY_EXISTS:
        fix = (
            f"the target already has what this file creates: if {migration.filename} was applied and its "
            "schema_migrations row deleted, restore the row (or set BASELINE_VERSION on an empty history); "
            "otherwise drop the object or rename it in the file"
        )
    elif isinstance(exc, psycopg.errors.InsufficientPrivilege):
        fix = privilege_fix(message)
    elif isinstance(exc, psycopg.OperationalError) and migration.no_transaction:
        fix = (
            "the connection to the database was lost (the server restarted or ended the session): run again, "
            "the file is re-run whole"
        )
    elif isinstance(exc, psycopg.OperationalError):
        fix = "the connection to the database was lost: the file was rolled back, run again"
    else:
        fix = (
            "fix the file and run again"
            if not migration.no_transaction
            else "fix the file and run again (it is re-run whole)"
        )
    state = "nothing of it was kept" if not migration.no_transaction else "statements before this one were kept"
    error = MigrationError(f"{where}: {message}{detail}: {state}; {fix}")
    error.sqlstate, error.offset = exc.sqlstate, base_offset  # tasks.migrations.retry: which statement waited
    return error


def lock_lost(migration: Migration) -> MigrationError:
    state = "nothing of it was kept" if not migration.no_transaction else "statements before this one were kept"
    return MigrationError(
        f"migration {migration.filename}: the deploy's lock was let go during the file "
        f"(pg_advisory_unlock* in a function it calls?): {state}; "
        "remove what releases it and run again"
    )


def ends_session(migration: Migration) -> str:
    """A file whose proof lost its session: nobody else uses the shadow, so the file ended it."""
    return (
        f"migration {migration.filename}: the file ends the tool's own session (the server ended the proof's "
        "session while the file ran, e.g. pg_terminate_backend of its own pid, in any spelling): nothing of "
        "it was kept; remove that from the file and run again"
    )
