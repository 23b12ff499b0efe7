"""
Reading the migration files: ``NNN_name.sql`` in one folder.

Version = the leading digits, compared as numbers; name = the rest. Checksum = sha256 of the
text with CRLF turned into LF and a leading BOM removed, so a checkout on Windows gives the
same checksum. A first line ``-- pgconverge:no-transaction`` marks a file that runs outside a
transaction, statement by statement. Every problem is found here, before anything connects
(for a set already proven, whose files were checked then, a file is split only when it is used).
Pure apart from reading the folder.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from tasks.core.errors import ActionableError
from tasks.core.private import NotRegular, read_regular
from tasks.core.shown import shown
from tasks.migrations.forbidden import forbidden
from tasks.migrations.sqlsplit import SqlError, Statement, split_statements

FILE_NAME = re.compile(r"(?P<version>[0-9]+)_(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)\.sql")
NO_TRANSACTION = "-- pgconverge:no-transaction"
BIGINT_MAX = 2**63 - 1
# Statements PostgreSQL refuses inside a transaction block (parse node -> what to call it).
NO_TRANSACTION_KINDS = {
    "CreatedbStmt": "CREATE DATABASE",
    "DropdbStmt": "DROP DATABASE",
    "AlterSystemStmt": "ALTER SYSTEM",
    "CreateTableSpaceStmt": "CREATE TABLESPACE",
    "DropTableSpaceStmt": "DROP TABLESPACE",
}
SAVEPOINT_KINDS = ("TRANS_STMT_SAVEPOINT", "TRANS_STMT_RELEASE", "TRANS_STMT_ROLLBACK_TO")


class MigrationFileError(ActionableError, ValueError):
    """A migration file cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    filename: str
    path: Path
    checksum: str
    sql: str
    no_transaction: bool

    @property
    def label(self) -> str:
        return self.filename

    @functools.cached_property
    def statements(self) -> tuple[Statement, ...]:
        """The file split by PostgreSQL's parser, on first use (a file already applied is never split),
        or as it was split before a proof (:mod:`tasks.migrations.parsed`)."""
        from tasks.migrations import parsed

        found = parsed.kept(self)
        if found:
            return found
        try:
            statements = split_statements(self.sql)
        except SqlError as exc:
            raise MigrationFileError(f"migration {self.filename} {exc}") from None
        if not statements:
            raise MigrationFileError(f"migration {self.filename} is empty: add SQL to it or delete it")
        return tuple(statements)

    def check(self) -> None:
        """Every problem of the file's statements, raised as a MigrationFileError naming the line
        (nothing to do for a file whose split was kept after a proof: :mod:`tasks.migrations.parsed`)."""
        statements = self.statements
        if not self.__dict__.get("proven"):
            _check_statements(self.filename, self.no_transaction, list(statements))

    @functools.cached_property
    def needs(self) -> tuple[tuple[str | None, str | None], ...]:
        """(schema that needs CREATE, schema created) of each statement that needs or creates one."""
        from tasks.migrations.privileges import file_needs

        statements = self.statements  # a kept split brings its needs along
        if "needs" in self.__dict__:
            return self.__dict__["needs"]
        return tuple(file_needs(statements, not self.no_transaction))

    @functools.cached_property
    def concurrent_indexes(self) -> tuple[str, ...]:
        """The names of the ``CREATE INDEX CONCURRENTLY IF NOT EXISTS`` of a no-transaction file."""
        statements = self.statements
        if "concurrent_indexes" in self.__dict__:
            return self.__dict__["concurrent_indexes"]
        return tuple(
            s.node["idxname"]
            for s in statements
            if s.kind == "IndexStmt"
            and s.node.get("concurrent")
            and s.node.get("if_not_exists")
            and s.node.get("idxname")
        )


def normalise(raw: bytes) -> str:
    """Decode UTF-8, drop a leading BOM, turn CRLF into LF."""
    text = raw.decode("utf-8")
    text = text.removeprefix("\ufeff")
    return text.replace("\r\n", "\n")


def checksum(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_file_name(filename: str) -> tuple[int, str]:
    match = FILE_NAME.fullmatch(filename)
    if not match:
        raise MigrationFileError(
            f"migration file {shown(filename)} does not match NNN_name.sql: rename it (e.g. 005_add_index.sql)"
        )
    version = int(match.group("version"))
    if version > BIGINT_MAX:
        raise MigrationFileError(
            f"migration file {filename}: version {match.group('version')} is larger than "
            f"{BIGINT_MAX} (schema_migrations.version is a bigint): renumber it"
        )
    return version, match.group("name")


def _needs_no_transaction(statement: Statement) -> str | None:
    """What in ``statement`` cannot run inside a transaction block, or None."""
    node, kind = statement.node, statement.kind
    if kind in ("IndexStmt", "DropStmt") and node.get("concurrent"):
        return f"{'CREATE' if kind == 'IndexStmt' else 'DROP'} INDEX CONCURRENTLY"
    params = node.get("params", ())
    if kind == "ReindexStmt" and any(p.get("DefElem", {}).get("defname") == "concurrently" for p in params):
        return "REINDEX CONCURRENTLY"
    if kind == "VacuumStmt" and node.get("is_vacuumcmd"):
        return "VACUUM"
    return NO_TRANSACTION_KINDS.get(kind) or _needs_no_transaction_more(kind, node)


# PostgreSQL's PreventInTransactionBlock() callers beyond the plain kinds above: REINDEX of many tables,
# CLUSTER of every table, a database moved to another tablespace, DETACH PARTITION CONCURRENTLY, subscriptions
# that create a slot or refresh.
REINDEX_MANY = {
    "REINDEX_OBJECT_SCHEMA": "REINDEX SCHEMA",
    "REINDEX_OBJECT_SYSTEM": "REINDEX SYSTEM",
    "REINDEX_OBJECT_DATABASE": "REINDEX DATABASE",
}


def _option_off(node: dict, name: str) -> bool:
    for item in node.get("options") or []:
        option = item.get("DefElem") or {}
        if option.get("defname") == name:
            value = option.get("arg") or {}
            text = (value.get("String") or {}).get("sval") or (value.get("Boolean") or {}).get("boolval")
            return str(text).lower() in ("false", "off", "0", "no")
    return False


def _needs_no_transaction_more(kind: str, node: dict) -> str | None:
    if kind == "ReindexStmt":
        return REINDEX_MANY.get(node.get("kind", ""))
    if kind == "ClusterStmt" and not node.get("relation"):
        return "CLUSTER of every table (no table named)"
    if kind == "AlterDatabaseStmt" and any(
        (o.get("DefElem") or {}).get("defname") == "tablespace" for o in node.get("options") or []
    ):
        return "ALTER DATABASE ... SET TABLESPACE"
    if kind == "AlterTableStmt" and any(
        ((cmd.get("AlterTableCmd") or {}).get("def") or {}).get("PartitionCmd", {}).get("concurrent")
        for cmd in node.get("cmds") or []
    ):
        return "DETACH PARTITION ... CONCURRENTLY"
    if kind == "CreateSubscriptionStmt" and not (_option_off(node, "create_slot") or _option_off(node, "connect")):
        return "CREATE SUBSCRIPTION (it creates a replication slot)"
    if kind == "AlterSubscriptionStmt" and node.get("kind") in ("ALTER_SUBSCRIPTION_REFRESH",):
        return "ALTER SUBSCRIPTION ... REFRESH PUBLICATION"
    return None


def _check_statements(filename: str, no_transaction: bool, statements: list[Statement]) -> None:
    for statement in statements:
        where = f"migration {filename} line {statement.line}"
        words = " ".join(statement.text.split()[:2]).upper()
        savepoint = statement.node.get("kind") in SAVEPOINT_KINDS
        if statement.kind == "TransactionStmt" and (no_transaction or not savepoint):
            advice = (
                "a no-transaction file runs each statement on its own: remove it"
                if no_transaction
                else f"every file already runs in its own transaction (or mark it {NO_TRANSACTION!r})"
            )
            raise MigrationFileError(f"{where}: {words} is not allowed: {advice}")
        reason = forbidden(statement.kind, statement.node)
        if reason:
            raise MigrationFileError(f"{where}: {reason}")
        if statement.kind == "DiscardStmt" and statement.node.get("target") == "DISCARD_ALL":
            raise MigrationFileError(
                f"{where}: DISCARD ALL would let go of the deploy's lock: remove it "
                "(every file already starts from a reset session)"
            )
        needs = _needs_no_transaction(statement)
        if not no_transaction and needs:
            raise MigrationFileError(
                f"{where}: {needs} cannot run inside a transaction: "
                f"put it in its own file whose first line is {NO_TRANSACTION}"
            )
        node = statement.node
        if (
            no_transaction
            and statement.kind == "IndexStmt"
            and node.get("concurrent")
            and not node.get("if_not_exists")
        ):
            raise MigrationFileError(
                f"{where}: a no-transaction file must be safe to re-run after a crash: "
                "write CREATE INDEX CONCURRENTLY IF NOT EXISTS"
            )
        if (
            no_transaction
            and statement.kind == "AlterEnumStmt"
            and node.get("newVal")
            and not node.get("skipIfNewValExists")
        ):
            raise MigrationFileError(
                f"{where}: a no-transaction file must be safe to re-run after a crash: write ADD VALUE IF NOT EXISTS"
            )


def _unreadable(path: Path, exc: OSError) -> MigrationFileError:
    """Why a ``*.sql`` entry cannot be read, told truthfully: a folder, a dangling link, or permissions."""
    if path.is_dir():
        return MigrationFileError(
            f"migration {path.name} is a folder, not a file: move it out of the migrations "
            "folder or rename it without .sql"
        )
    if path.is_symlink() and not path.exists():
        return MigrationFileError(
            f"migration {path.name} is a symbolic link to {shown(path.readlink())}, "
            "which does not exist: fix the link or remove it"
        )
    return MigrationFileError(f"migration {path.name} cannot be read ({exc.strerror}): fix its permissions")


def read_migration(path: Path) -> Migration:
    version, name = parse_file_name(path.name)
    try:
        raw = read_regular(path, follow=True)
    except NotRegular as exc:
        error = _unreadable(path, exc) if path.is_dir() else MigrationFileError(f"migration {path.name}: {exc}")
        raise error from None
    except OSError as exc:
        raise _unreadable(path, exc) from None
    if b"\0" in raw:
        line = raw[: raw.index(b"\0")].count(b"\n") + 1
        raise MigrationFileError(
            f"migration {path.name} line {line} contains a NUL byte, which PostgreSQL cannot "
            "take: remove it (was the file saved as UTF-16 or binary?) and save it as UTF-8"
        )
    try:
        text = normalise(raw)
    except UnicodeDecodeError:
        raise MigrationFileError(f"migration {path.name} is not UTF-8 text: save it as UTF-8") from None
    no_transaction = bool(text.strip()) and text.lstrip().splitlines()[0].strip().lower() == NO_TRANSACTION
    return Migration(
        version=version,
        name=name,
        filename=path.name,
        path=path,
        checksum=checksum(text),
        sql=text,
        no_transaction=no_transaction,
    )


def read_migrations(folder: Path, check: bool = True) -> list[Migration]:
    """Every ``*.sql`` file of the folder, ordered by version; any problem raises. With ``check``
    false the statements are split and checked only when first used (:func:`check_migrations`
    does it for all): for a set already proven, whose files were checked when it was."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MigrationFileError(f"migrations folder {folder} does not exist: create it or set MIGRATIONS_DIR")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".sql" and not p.name.startswith("."))
    migrations = [read_migration(p) for p in paths]
    seen: dict[int, str] = {}
    for migration in migrations:
        if migration.version in seen:
            raise MigrationFileError(
                f"migrations {seen[migration.version]} and {migration.filename} have the same version "
                f"{migration.version}: renumber one of them"
            )
        seen[migration.version] = migration.filename
    migrations.sort(key=lambda m: m.version)
    if check:
        check_migrations(migrations)
    return migrations


def check_migrations(migrations: list[Migration]) -> None:
    """Split and check every file, in order: the first problem raises (a MigrationFileError)."""
    for migration in migrations:
        migration.check()


def set_checksum(migrations: list[Migration]) -> str:
    """One checksum over the whole set (versions, names and contents), for caching the proof."""
    digest = hashlib.sha256()
    for migration in migrations:
        digest.update(f"{migration.version}\0{migration.name}\0{migration.checksum}\n".encode())
    return digest.hexdigest()
