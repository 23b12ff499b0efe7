"""
libpq's environment variables, kept out of the tool's connections.

libpq (in this process through psycopg, and in every psql, pg_dump and pg_restore) fills each
connection parameter the conninfo and the service file leave unset from a ``PG*`` variable
(``PGHOSTADDR``, ``PGCLIENTENCODING``, ``PGSSLCERT``, ...), and sends ``PGDATESTYLE``, ``PGTZ`` and
``PGGEQO`` to the server as settings. A value in the user's shell would send the migration (and the
password) to another address, or read the data in another encoding or date style. So every ``PG``
variable (``PG`` and a capital letter: ``PG_BINDIRS`` is the tool's own setting) is taken out of this
process's environment, which every child inherits, and the tool sets its own. Pure apart from the
environment it is given.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping

# Names libpq, psql, pg_dump and pg_restore read: "PG" then a capital letter (not PG_BINDIRS).
LIBPQ_NAME = re.compile(r"PG[A-Z][A-Z0-9_]*")
# What the tool sets for every child: psql asks for client_encoding=auto (the locale's) unless this is set.
TOOL_SETS = {"PGCLIENTENCODING": "UTF8"}


def is_libpq_variable(name: str) -> bool:
    return bool(LIBPQ_NAME.fullmatch(name))


def withdraw_libpq_variables(environ: MutableMapping[str, str], keep: tuple[str, ...] = ()) -> list[str]:
    """Remove every libpq variable from ``environ`` but ``keep``, then set the tool's own; the names removed."""
    names = sorted(name for name in list(environ) if is_libpq_variable(name) and name not in keep)
    for name in names:
        del environ[name]
    environ.update(TOOL_SETS)
    return names
