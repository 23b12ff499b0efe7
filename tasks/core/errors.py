"""
Errors: one root for every problem the user can act on, and one line for any other exception.

:class:`ActionableError` is the parent of every error whose message already names the thing, the
cause and the way forward (settings, migration and seed files, the engine, backups, the copy,
the Heroku CLI). :func:`describe` turns *any* exception into such a line: an actionable error as
it is; a database error by its SQLSTATE class (lost connection, server restart, full disk,
missing privilege, cancelled statement); an ``OSError`` by its errno; anything else by its type,
with ``--debug`` as the way to the traceback. Pure: psycopg is never imported here.
"""

from __future__ import annotations

import errno

from tasks.core.shown import escape_controls


class ActionableError(Exception):
    """A problem the user can fix; ``str()`` is one line naming the thing, the cause and the way forward."""


# SQLSTATE (or its two-character class) -> what it means for the user and what to do.
SQLSTATE_CAUSES = {
    "42501": (
        "the role lacks a privilege",
        ("grant it (e.g. GRANT CREATE ON SCHEMA public TO the role) or use the owner's URL, then run again"),
    ),
    "53100": ("the database server's disk is full", "free space or move to a larger plan, then run again"),
    "53200": ("the database server is out of memory", "run again when it is less busy"),
    "53300": ("the database server has no connection slot left", "close idle connections, then run again"),
    "57014": ("a statement was cancelled (statement timeout or an administrator)", "raise the limit or run again"),
    "57P01": ("the server ended the session (pg_terminate_backend, or a shutdown)", "run again (once it is back)"),
    "57P02": ("the database server restarted after a crash", "run again once it is back"),
    "57P03": ("the database server is starting up", "run again in a moment"),
    "40P01": ("a deadlock with another session", "run again"),
    "40001": ("a serialization failure", "run again"),
    "55P03": ("a lock was not granted in time", "run again when the database is less busy"),
    "08": ("the connection to the database was lost", "run again once it is reachable"),
    "53": ("the database server ran out of a resource", "run again when it has room"),
    "57": ("the database server stopped the session", "run again once it is back"),
}
LOST_CONNECTION = SQLSTATE_CAUSES["08"]

ERRNO_CAUSES = {
    errno.ENOSPC: ("no space left on the device", "free space there, then run again"),
    errno.EDQUOT: ("the disk quota is exhausted", "free space there, then run again"),
    errno.EACCES: ("permission denied", "make it writable for this user or point the setting elsewhere"),
    errno.EPERM: ("operation not permitted", "make it writable for this user or point the setting elsewhere"),
    errno.EROFS: ("the file system is read-only", "point the setting at a writable folder"),
    errno.ENOENT: ("it does not exist", "create it or point the setting elsewhere"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "point the setting at a folder"),
}


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else ""


def _database(exc: Exception) -> str | None:
    """A psycopg error as one line (``None`` when ``exc`` is not one)."""
    if not type(exc).__module__.startswith("psycopg"):
        return None
    diag = getattr(exc, "diag", None)
    sqlstate = getattr(exc, "sqlstate", None) or ""
    message = _first_line(getattr(diag, "message_primary", None) or str(exc)) or "no message"
    cause, fix = SQLSTATE_CAUSES.get(sqlstate) or SQLSTATE_CAUSES.get(sqlstate[:2]) or (None, None)
    if cause is None and type(exc).__name__ in ("OperationalError", "InterfaceError"):
        cause, fix = LOST_CONNECTION
    if cause is None:
        return (
            f"the database refused a statement: {message} (SQLSTATE {sqlstate or 'unknown'}): "
            "run again with --debug to see where"
        )
    return f"{cause}: {message}: {fix}"


def _os(exc: Exception) -> str | None:
    if not isinstance(exc, OSError) or exc.errno is None:
        return None
    cause, fix = ERRNO_CAUSES.get(exc.errno, (exc.strerror or "an operating system error", "fix it, then run again"))
    where = f"{exc.filename}: " if exc.filename else ""
    if not exc.filename and exc.errno in (errno.ENOSPC, errno.EDQUOT):  # a write that names no file: say where to look
        import tempfile

        fix = (
            f"free space on the disk of BACKUP_DIR, STATE_DIR or REPORT_DIR, or of the temporary folder "
            f"{tempfile.gettempdir()} (TMPDIR), then run again"
        )
    return f"{where}{cause}: {fix}"


def describe(exc: BaseException) -> str:
    """One line for any exception: what failed, why, and what to do; never a traceback."""
    if isinstance(exc, ActionableError):
        return escape_controls(_first_line(str(exc))) or type(exc).__name__
    if isinstance(exc, Exception):
        found = _database(exc) or _os(exc)
        if found:
            return found
    detail = escape_controls(_first_line(str(exc)))
    detail = f": {detail}" if detail else ""
    return f"unexpected {type(exc).__name__}{detail}: run again with --debug for the traceback and report it"
