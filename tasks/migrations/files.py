"""
Reading the migration files: ``NNN_name.sql`` in one folder.

Version = the leading digits, compared as numbers; name = the rest. Checksum = sha256 of the
text with CRLF turned into LF and a leading BOM removed, so a checkout on Windows gives the
same checksum. A first line ``-- pgconverge:no-transaction`` marks a file that runs outside a
transaction, statement by statement. Every problem is found here, before anything connects.
Pure apart from reading the folder.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from tasks.core.errors import ActionableError
from tasks.migrations.sqlsplit import Statement, split_statements

FILE_NAME = re.compile(r"(?P<version>[0-9]+)_(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)\.sql")
NO_TRANSACTION = "-- pgconverge:no-transaction"
TRANSACTION_CONTROL = re.compile(r"(BEGIN|START TRANSACTION|COMMIT|END|ROLLBACK|ABORT)\b(?! ATOMIC)")
CONCURRENT_INDEX = re.compile(r"CREATE (UNIQUE )?INDEX CONCURRENTLY\b")
NEEDS_NO_TRANSACTION = re.compile(
    r"(CREATE (UNIQUE )?INDEX CONCURRENTLY|DROP INDEX CONCURRENTLY|REINDEX .*CONCURRENTLY|VACUUM|"
    r"CREATE DATABASE|DROP DATABASE|ALTER SYSTEM)\b"
)
ADD_ENUM_VALUE = re.compile(r"ALTER TYPE \S+ ADD VALUE\b")


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
    statements: tuple[Statement, ...]

    @property
    def label(self) -> str:
        return self.filename


def normalise(raw: bytes) -> str:
    """Decode UTF-8, drop a leading BOM, turn CRLF into LF."""
    text = raw.decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n")


def checksum(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_file_name(filename: str) -> tuple[int, str]:
    match = FILE_NAME.fullmatch(filename)
    if not match:
        raise MigrationFileError(
            f"migration file {filename} does not match NNN_name.sql: rename it (e.g. 005_add_index.sql)"
        )
    return int(match.group("version")), match.group("name")


def _check_statements(filename: str, no_transaction: bool, statements: list[Statement]) -> None:
    for statement in statements:
        words = statement.first_words
        where = f"migration {filename} line {statement.line}"
        if statement.text.lstrip().startswith("\\"):
            raise MigrationFileError(f"{where}: psql meta-command {statement.text.split()[0]} is not supported: use plain SQL")
        if TRANSACTION_CONTROL.match(words) and not words.startswith("BEGIN ATOMIC"):
            raise MigrationFileError(
                f"{where}: {words.split()[0]} is not allowed: every file already runs in its own transaction "
                f"(or mark it {NO_TRANSACTION!r})"
            )
        if not no_transaction and NEEDS_NO_TRANSACTION.match(words):
            raise MigrationFileError(
                f"{where}: {' '.join(words.split()[:4])} cannot run inside a transaction: "
                f"put it in its own file whose first line is {NO_TRANSACTION}"
            )
        if no_transaction and (CONCURRENT_INDEX.match(words) or ADD_ENUM_VALUE.match(words)):
            if "IF NOT EXISTS" not in " ".join(statement.text.upper().split()):
                raise MigrationFileError(
                    f"{where}: a no-transaction file must be safe to re-run after a crash: "
                    f"write {'CREATE INDEX CONCURRENTLY IF NOT EXISTS' if 'INDEX' in words else 'ADD VALUE IF NOT EXISTS'}"
                )


def _unreadable(path: Path, exc: OSError) -> MigrationFileError:
    """Why a ``*.sql`` entry cannot be read, told truthfully: a folder, a dangling link, or permissions."""
    if path.is_dir():
        return MigrationFileError(f"migration {path.name} is a folder, not a file: move it out of the migrations "
                                  "folder or rename it without .sql")
    if path.is_symlink() and not path.exists():
        return MigrationFileError(f"migration {path.name} is a symbolic link to {path.readlink()}, which does not "
                                  "exist: fix the link or remove it")
    return MigrationFileError(f"migration {path.name} cannot be read ({exc.strerror}): fix its permissions")


def read_migration(path: Path) -> Migration:
    version, name = parse_file_name(path.name)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _unreadable(path, exc) from None
    if b"\0" in raw:
        line = raw[: raw.index(b"\0")].count(b"\n") + 1
        raise MigrationFileError(f"migration {path.name} line {line} contains a NUL byte, which PostgreSQL cannot "
                                 "take: remove it (was the file saved as UTF-16 or binary?) and save it as UTF-8")
    try:
        text = normalise(raw)
    except UnicodeDecodeError:
        raise MigrationFileError(f"migration {path.name} is not UTF-8 text: save it as UTF-8") from None
    statements = split_statements(text)
    if not statements:
        raise MigrationFileError(f"migration {path.name} is empty: add SQL to it or delete it")
    no_transaction = text.lstrip().splitlines()[0].strip().lower() == NO_TRANSACTION
    _check_statements(path.name, no_transaction, statements)
    return Migration(
        version=version,
        name=name,
        filename=path.name,
        path=path,
        checksum=checksum(text),
        sql=text,
        no_transaction=no_transaction,
        statements=tuple(statements),
    )


def read_migrations(folder: Path) -> list[Migration]:
    """Every ``*.sql`` file of the folder, ordered by version; any problem raises."""
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
    return sorted(migrations, key=lambda m: m.version)


def set_checksum(migrations: list[Migration]) -> str:
    """One checksum over the whole set (versions, names and contents), for caching the proof."""
    digest = hashlib.sha256()
    for migration in migrations:
        digest.update(f"{migration.version}\0{migration.name}\0{migration.checksum}\n".encode())
    return digest.hexdigest()
