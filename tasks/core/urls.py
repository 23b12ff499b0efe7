"""
Database URLs: parse, validate, redact, and turn into libpq service-file parameters.

Pure functions, no I/O. A password never leaves this module except inside
:meth:`DatabaseUrl.service_params`, which only the connections module writes to a 0600 file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlsplit

from tasks.core.errors import ActionableError

SCHEMES = ("postgres", "postgresql")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "")
# sslmode values from weakest to strongest; a non-local host needs at least "require".
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# Query parameters we pass on to libpq; anything else is refused so a typo is not ignored.
PASSTHROUGH_PARAMS = ("sslmode", "sslrootcert", "connect_timeout", "application_name", "options")
# What the service file gives libpq for a certificate file the URL does not name: no file, so nothing in $HOME.
NO_FILE = "/nonexistent/pgconverge-names-no-file"
# Characters a URL reserves that a password may hold; each must be percent-encoded in the URL.
RESERVED = "#/?@[]%"
# scheme://user:PASSWORD@host[:port][/db][?...] with the password everything up to the last "@" that a host follows.
USERINFO = re.compile(
    r"[A-Za-z]+://(?P<user>[^:@/?#]*):(?P<password>.*)@(?P<host>[A-Za-z0-9._~-]*|\[[0-9A-Fa-f:.]+\]"
    r"|%2[Ff][^:/?#@]*)(?::[0-9]*)?(?:[/?][^@]*)?",
    re.DOTALL,
)


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
    def is_socket(self) -> bool:
        """The host is a Unix socket folder (``%2Fvar%2Frun%2Fpostgresql`` or ``?host=/var/run/postgresql``)."""
        return self.host.startswith("/")

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
        host = f"[{self.host}]" if ":" in self.host else quote(self.host, safe="") if self.is_socket else self.host
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
        # libpq would read ~/.postgresql/{root.crt,postgresql.crt,postgresql.key,root.crl} when these are unset
        # (a root.crt turns sslmode=require into verify-ca; a client key would be presented): a name that is no
        # file, unless the URL names one; verify-full trusts the system's roots.
        params.setdefault("sslrootcert", "system" if self.sslmode == "verify-full" else NO_FILE)
        for key in ("sslcert", "sslkey", "sslcrl", "sslcrldir"):
            params.setdefault(key, NO_FILE)
        params.setdefault("application_name", "pgconverge")
        params.setdefault("connect_timeout", "10")
        return params


def unencoded_in_password(raw: str) -> str:
    """The reserved characters the URL's password holds as they are (not percent-encoded), in order; "" if none.
    The password itself never leaves this function."""
    match = USERINFO.fullmatch(raw.strip())
    if not match:
        return ""
    password = re.sub(r"%[0-9A-Fa-f]{2}", "", match.group("password"))  # what is encoded is fine
    return "".join(dict.fromkeys(char for char in password if char in RESERVED))


def encode_advice(chars: str, what: str = "the password") -> str:
    """One line telling to percent-encode ``chars`` (never the password)."""
    forms = ", ".join(f"{char} as {quote(char, safe='')}" for char in chars)
    return (
        f"{what} holds {' '.join(chars)}, which a URL reserves: percent-encode it in the URL ({forms}; "
        "python3 -c 'import getpass, urllib.parse; print(urllib.parse.quote(getpass.getpass(), safe=\"\"))' "
        "prints the encoded password)"
    )


def socket_host(parts: SplitResult, query_hosts: list[str]) -> str | None:
    """libpq's Unix-socket forms: ``?host=/folder`` or a host part ``%2Ffolder``; None for a network host."""
    if query_hosts:
        if not query_hosts[-1].startswith("/"):
            raise UrlError(
                "?host= in the URL must be a Unix socket folder (an absolute path such as "
                "/var/run/postgresql): put a network host name in the host part instead"
            )
        return query_hosts[-1]
    raw = parts.netloc.rpartition("@")[2]
    if raw.startswith("["):
        return None
    host = unquote(raw.split(":", 1)[0])
    return host if host.startswith("/") else None


def refuse_lists(query: list[tuple[str, str]]) -> None:
    """A parameter given twice (libpq keeps the last, silently) or a list of hosts (``?host=/a,b``: libpq tries
    each, and a network host in it would skip the SSL requirement) is refused, naming the form."""
    seen: set[str] = set()
    for key, value in query:
        if key in seen:
            raise UrlError(f"?{key}= is given twice in the URL (libpq would use only the last one): give it once")
        seen.add(key)
        if key in ("host", "hostaddr", "port") and "," in value:
            raise UrlError(
                f"?{key}= in the URL holds a list ({key}=a,b), which is not supported: libpq would try "
                "each in turn, each with its own SSL requirement; give one"
            )


def parse_database_url(raw: str) -> DatabaseUrl:
    """Parse ``postgres[ql]://user:password@host:port/dbname?sslmode=...``; a Unix socket folder as the host
    is written ``%2Fvar%2Frun%2Fpostgresql`` or given as ``?host=/var/run/postgresql``. A password holding a
    reserved character as it is (``#``, ``@``, ``/``, ...) is told to be percent-encoded, whatever else the
    URL then seems to lack."""
    try:
        return parse_url(raw)
    except UrlError:
        reserved = unencoded_in_password(raw)
        if reserved:
            raise UrlError(encode_advice(reserved)) from None
        raise


def parse_url(raw: str) -> DatabaseUrl:
    """:func:`parse_database_url` without the second look at a password that is not percent-encoded."""
    try:
        parts = urlsplit(raw.strip())
    except ValueError:
        raise UrlError("malformed URL (bad port or brackets): use postgres://user:password@host:5432/dbname") from None
    if "," in parts.netloc.rpartition("@")[2]:
        raise UrlError(
            "a list of hosts in the host part (host1,host2) is not supported: libpq would try each in "
            "turn, each with its own SSL requirement; give one host"
        )
    try:
        port = parts.port or 5432
    except ValueError:
        raise UrlError("malformed URL (bad port or brackets): use postgres://user:password@host:5432/dbname") from None
    if parts.scheme not in SCHEMES:
        raise UrlError("not a postgres URL: it must start with postgres:// or postgresql://")
    query = parse_qsl(parts.query, keep_blank_values=True)
    refuse_lists(query)
    socket = socket_host(parts, [value for key, value in query if key == "host"])
    if not parts.hostname and not socket:
        raise UrlError("no host in the URL: use postgres://user:password@host:5432/dbname")
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname or "/" in dbname:
        raise UrlError("no database name in the URL: end it with /dbname")
    if not parts.username:
        raise UrlError("no user in the URL: use postgres://user:password@host:5432/dbname")
    params = tuple((key, value) for key, value in query if key != "host")
    for key, value in params:
        if key not in PASSTHROUGH_PARAMS:
            raise UrlError(
                f"unknown URL parameter {key!r}: allowed are {', '.join(PASSTHROUGH_PARAMS)} (and host=/socket/folder)"
            )
        if key == "sslmode" and value not in SSL_MODES:
            raise UrlError(f"sslmode={value!r} is not a libpq sslmode: use require")
    userinfo = parts.netloc.rpartition("@")[0]
    stray = "".join(dict.fromkeys(c for c in re.sub(r"%[0-9A-Fa-f]{2}", "", userinfo) if c in "@%"))
    if stray:
        # Python splits at the last "@"; libpq and the app's drivers do not
        raise UrlError(encode_advice(stray, "the user name or password"))
    password = unquote(parts.password) if parts.password is not None else None
    host = socket or parts.hostname or ""
    for what, value in (("user name", unquote(parts.username)), ("database name", dbname), ("host", host)):
        if "\n" in value or "\r" in value:
            raise UrlError(
                f"the {what} contains a line break (%0A or %0D), which libpq's service file cannot hold: "
                "remove it from the URL"
            )
    if password and ("\n" in password or "\r" in password):
        raise UrlError(
            "the password contains a line break (%0A or %0D), which libpq cannot be given without "
            "putting it in the environment: change the password"
        )
    url = DatabaseUrl(
        host=host,
        port=port,
        dbname=dbname,
        user=unquote(parts.username),
        password=password,
        params=params,
    )
    if not url.is_local and SSL_MODES.index(url.sslmode) < SSL_MODES.index("require"):
        raise UrlError(f"sslmode={url.sslmode} for the non-local host {url.host}: remove it or use sslmode=require")
    return url
