"""
Database URLs: parse, validate, redact, and turn into libpq service-file parameters.

Pure functions, no I/O. A password never leaves this module except inside
:meth:`DatabaseUrl.service_params`, which only the connections module writes to a 0600 file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from tasks.core.errors import ActionableError

SCHEMES = ("postgres", "postgresql")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "")
# sslmode values from weakest to strongest; a non-local host needs at least "require".
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# Query parameters we pass on to libpq; anything else is refused so a typo is not ignored.
PASSTHROUGH_PARAMS = ("sslmode", "sslrootcert", "connect_timeout", "application_name", "options")


class UrlError(ActionableError, ValueError):
    """The URL cannot be used; the message says why without repeating the URL (it may hold a password)."""


@dataclass(frozen=True)
class DatabaseUrl:
    host: str
    port: int
    dbname: str
    user: str
    password: str | None = field(repr=False)  # never in a repr, a traceback or a log
    params: tuple[tuple[str, str], ...] = ()

    @property
    def is_local(self) -> bool:
        return self.host in LOCAL_HOSTS or self.host.startswith("/")

    @property
    def sslmode(self) -> str:
        explicit = dict(self.params).get("sslmode")
        if explicit:
            return explicit
        return "prefer" if self.is_local else "require"

    @property
    def redacted(self) -> str:
        """``postgres://user:***@host:port/db``: safe to print."""
        secret = ":***" if self.password else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"postgres://{self.user}{secret}@{host}:{self.port}/{self.dbname}"

    def same_database(self, other: DatabaseUrl) -> bool:
        return (self.host, self.port, self.dbname) == (other.host, other.port, other.dbname)

    def service_params(self) -> dict[str, str]:
        """The libpq keywords for a ``pg_service.conf`` section (includes the password)."""
        params = {"host": self.host, "port": str(self.port), "dbname": self.dbname, "user": self.user}
        if self.password is not None:
            params["password"] = self.password
        params.update(dict(self.params))
        params["sslmode"] = self.sslmode
        params.setdefault("application_name", "pgconverge")
        params.setdefault("connect_timeout", "10")
        return params


def parse_database_url(raw: str) -> DatabaseUrl:
    """Parse ``postgres[ql]://user:password@host:port/dbname?sslmode=...``."""
    try:
        parts = urlsplit(raw.strip())
        port = parts.port or 5432
    except ValueError:
        raise UrlError("malformed URL (bad port or brackets): use postgres://user:password@host:5432/dbname") from None
    if parts.scheme not in SCHEMES:
        raise UrlError("not a postgres URL: it must start with postgres:// or postgresql://")
    if not parts.hostname:
        raise UrlError("no host in the URL: use postgres://user:password@host:5432/dbname")
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname or "/" in dbname:
        raise UrlError("no database name in the URL: end it with /dbname")
    if not parts.username:
        raise UrlError("no user in the URL: use postgres://user:password@host:5432/dbname")
    params = tuple(parse_qsl(parts.query, keep_blank_values=True))
    for key, value in params:
        if key not in PASSTHROUGH_PARAMS:
            raise UrlError(f"unknown URL parameter {key!r}: allowed are {', '.join(PASSTHROUGH_PARAMS)}")
        if key == "sslmode" and value not in SSL_MODES:
            raise UrlError(f"sslmode={value!r} is not a libpq sslmode: use require")
    password = unquote(parts.password) if parts.password is not None else None
    for what, value in (("user name", unquote(parts.username)), ("database name", dbname), ("host", parts.hostname)):
        if "\n" in value or "\r" in value:
            raise UrlError(f"the {what} contains a line break (%0A or %0D), which libpq's service file cannot hold: "
                           "remove it from the URL")
    if password and ("\n" in password or "\r" in password):
        raise UrlError("the password contains a line break (%0A or %0D), which libpq cannot be given without "
                       "putting it in the environment: change the password")
    url = DatabaseUrl(
        host=parts.hostname,
        port=port,
        dbname=dbname,
        user=unquote(parts.username),
        password=password,
        params=params,
    )
    if not url.is_local and SSL_MODES.index(url.sslmode) < SSL_MODES.index("require"):
        raise UrlError(f"sslmode={url.sslmode} for the non-local host {url.host}: remove it or use sslmode=require")
    return url
