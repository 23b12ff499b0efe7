"""
Reading what the Heroku CLI prints (pure functions, no I/O; unit-tested on recorded samples).

The CLI has ``--json`` for ``config:get`` and ``ps`` only; ``pg:info``, ``pg:backups:info`` and
``logs`` are text, and ``pg:backups:capture`` prints the new backup's id on stderr alone (recorded
samples in tests/unit/samples). Errors arrive on stderr as `` ›   Error: message`` lines (API and
usage errors, exit 2) or ``    Error: message`` (plain errors, exit 1).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from tasks.core.errors import ActionableError


class HerokuOutputError(ActionableError, ValueError):
    """The CLI printed something we cannot read; the message says what was expected."""


# ---------------------------------------------------------------------------------------------
# config:get --json


def parse_config_get(stdout: str, keys: list[str]) -> dict[str, str | None]:
    """``config:get K1 K2 --json`` → ``{key: value or None}`` (one key prints an object, several a list)."""
    try:
        data = json.loads(stdout)
    except json.JSONDecodeError:
        raise HerokuOutputError("config:get --json did not print JSON (is the Heroku CLI older than 10.17?)") from None
    items = data if isinstance(data, list) else [data]
    values: dict[str, str | None] = {key: None for key in keys}
    for item in items:
        if isinstance(item, dict) and item.get("key") in values:
            value = item.get("value")
            values[item["key"]] = value if isinstance(value, str) and value.strip() else None
    return values


# ---------------------------------------------------------------------------------------------
# pg:info


@dataclass(frozen=True)
class PgInfo:
    plan: str
    status: str
    connections_used: int | None
    connections_limit: int | None
    pg_version: str | None
    data_size: str | None
    tables: str | None
    addon: str | None

    @property
    def pg_major(self) -> int | None:
        match = re.match(r"(\d+)", self.pg_version or "")
        return int(match.group(1)) if match else None

    def summary(self) -> str:
        parts = [f"plan {self.plan}", f"status {self.status}"]
        if self.connections_limit is not None:
            parts.append(f"connections {self.connections_used}/{self.connections_limit}")
        if self.pg_version:
            parts.append(f"PostgreSQL {self.pg_version}")
        if self.data_size:
            parts.append(f"data {self.data_size}")
        if self.tables:
            parts.append(f"tables {self.tables}")
        return ", ".join(parts)


_NO_DATABASE = re.compile(r"has no heroku-postgresql databases")


def parse_pg_info(stdout: str) -> PgInfo | None:
    """
    ``pg:info`` → the ``DATABASE_URL`` database's facts, or None when the app has no database
    (the CLI prints a sentence and exits 0). With several databases, the block whose header
    names ``DATABASE_URL`` is read (the CLI sorts it first).
    """
    if _NO_DATABASE.search(stdout):
        return None
    blocks = re.split(r"^=== ", stdout, flags=re.MULTILINE)
    chosen = next((b for b in blocks[1:] if "DATABASE_URL" in b.splitlines()[0]), None)
    if chosen is None:
        chosen = blocks[1] if len(blocks) > 1 else stdout
    fields: dict[str, str] = {}
    for line in chosen.splitlines()[1:]:
        match = re.match(r"^([A-Z][A-Za-z /-]*?):\s+(.*\S)\s*$", line)
        if match:
            fields.setdefault(match.group(1), match.group(2))
    if "Plan" not in fields:
        raise HerokuOutputError("pg:info printed no Plan line: check the app's database with heroku pg:info")
    used = limit = None
    connections = re.match(r"(\d+)\s*/\s*(\d+)", fields.get("Connections", ""))
    if connections:
        used, limit = int(connections.group(1)), int(connections.group(2))
    return PgInfo(
        plan=fields["Plan"],
        status=fields.get("Status", "unknown"),
        connections_used=used,
        connections_limit=limit,
        pg_version=fields.get("PG Version"),
        data_size=fields.get("Data Size"),
        tables=fields.get("Tables"),
        addon=fields.get("Add-on"),
    )


# ---------------------------------------------------------------------------------------------
# ps --json


@dataclass(frozen=True)
class Dynos:
    web: int
    release: int | None  # the newest release any dyno runs
    generation: str = "cedar"  # "fir" when the dynos are named like web-<release>-<id> (the CLI's own test)


def parse_ps(stdout: str) -> Dynos:
    """``ps --json`` → how many web dynos run, and the release they run."""
    try:
        dynos = json.loads(stdout)
    except json.JSONDecodeError:
        raise HerokuOutputError("ps --json did not print JSON") from None
    if not isinstance(dynos, list):
        raise HerokuOutputError("ps --json did not print a list of dynos")
    web = [d for d in dynos if isinstance(d, dict) and d.get("type") == "web"]
    releases = [d.get("release", {}).get("version") for d in dynos if isinstance(d, dict)]
    versions = [v for v in releases if isinstance(v, int)]
    fir = any(re.match(r"^[a-z]+-[0-9a-z]+-[0-9a-z]{5}$", str(d.get("name", ""))) for d in dynos if isinstance(d, dict))
    return Dynos(web=len(web), release=max(versions) if versions else None, generation="fir" if fir else "cedar")


def parse_release(stderr: str) -> int | None:
    """The new release from ``Setting K and restarting APP... done, v42`` (config:set's stderr)."""
    match = re.search(r"done, v(\d+)", stderr)
    return int(match.group(1)) if match else None


# ---------------------------------------------------------------------------------------------
# pg:backups:capture / pg:backups:info


def parse_capture_id(stderr: str) -> str | None:
    """The new backup's id from ``Backing up DATABASE to b005... done`` (stderr only)."""
    match = re.search(r"\bto\s+([abr]\d{3,})\b", stderr)
    return match.group(1) if match else None


def parse_backup_status(stdout: str) -> str | None:
    """``pg:backups:info ID`` → its Status (``Completed``, ``Finished with 2 warnings``, ``Failed``…)."""
    match = re.search(r"^Status:\s+(.*\S)", stdout, flags=re.MULTILINE)
    return match.group(1) if match else None


def backup_succeeded(status: str | None) -> bool:
    return status is not None and status.startswith(("Completed", "Finished with"))


# ---------------------------------------------------------------------------------------------
# errors


@dataclass(frozen=True)
class CliFailure:
    kind: str  # "auth", "network", "app", "no-database", "server", "no-exit-code", "other"
    message: str  # the CLI's own message, one line


_BLOCK_ENDS = re.compile(r"^(Error ID:|See more help|Run heroku |Code:|at |Usage:)")
_STACK_FRAME = re.compile(r"^\s*at\s|^\s*undefined\s*$|^\s*\w*Error:\s.*\bat\b.*\.js:\d+")
_TOOL_NOISE = re.compile(r"^(pg_dump|pg_restore): (?!error|detail|hint|warning|FATAL)", re.IGNORECASE)


def _error_block(lines: list[str]) -> list[str]:
    """The lines of the CLI's `` Error: …`` block, unfolded: to its Error ID / Run heroku … line,
    across blank lines (a failed capture puts pg_dump's error lines after one)."""
    for index, line in enumerate(lines):
        match = re.match(r"^\s*(?:›\s*)?Error:\s*(.*)$", line)
        if not match:
            continue
        block = [match.group(1).strip()]
        for follow in lines[index + 1 :]:
            follow = re.sub(r"^\s*›?\s*", "", follow).strip()
            if _BLOCK_ENDS.match(follow):
                break
            if follow and not _TOOL_NOISE.match(follow):
                block.append(follow)
        return block
    return []


def _without_html(text: str) -> tuple[str, bool]:
    """An HTML error page (a proxy's or Heroku's router's) cut off the message."""
    match = re.search(r"<(!DOCTYPE|html|head|body)\b", text, flags=re.IGNORECASE)
    return (text[: match.start()].strip(), True) if match else (text, False)


def parse_cli_error(stderr: str) -> CliFailure:
    """The CLI's error (`` ›   Error: …`` or ``    Error: …``, possibly folded over lines) and its
    kind; never a JavaScript stack frame, never an HTML page."""
    lines = stderr.splitlines()
    block = _error_block(lines)
    message = ""
    if block:
        # a folded line continues the sentence; a tool's own line (pg_dump: …) is a new part
        message = block[0]
        for part in block[1:]:
            message += ("; " if re.match(r"^(pg_dump|pg_restore|psql):", part) else " ") + part
        message = re.sub(r"\s+", " ", message).strip()
    message, html = _without_html(message)
    if not message:
        plain = [
            line.strip()
            for line in lines
            if line.strip()
            and not _STACK_FRAME.match(line)
            and "Warning" not in line
            and not line.startswith("Running ")
        ]
        message = plain[-1] if plain else ""
    lowered = stderr.lower()
    exited = re.search(r"Process exited with code (\d+)", stderr)
    if "no exit code returned" in lowered:
        kind, message = "no-exit-code", "No exit code returned"
    elif exited:  # the dyno's command failed: its own words (ECONNREFUSED, ...) are about the app, not the CLI
        said = [
            line.strip()
            for line in lines
            if line.strip()
            and "Process exited with code" not in line
            and not _STACK_FRAME.match(line)
            and not line.startswith("Running ")
        ]
        kind, message = "other", f"Process exited with code {exited.group(1)}" + (f": {said[-1]}" if said else "")
    elif (
        "invalid credentials" in lowered
        or "heroku_api_key is invalid" in lowered
        or "unauthorized" in lowered
        or "not logged in" in lowered
        or "401" in lowered
    ):
        kind = "auth"
    elif re.search(r"\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ECONNRESET|EHOSTUNREACH)\b", stderr):
        kind = "network"
    elif "couldn't find that app" in lowered or "error id: not_found" in lowered and "app" in lowered:
        kind = "app"
    elif "has no databases" in lowered or "no heroku postgres" in lowered or "unknown database" in lowered:
        kind = "no-database"
    elif html or re.search(r"HTTP Error 5\d\d", message):
        kind = "server"
    else:
        kind = "other"
    return CliFailure(kind, message or "no message")


# ---------------------------------------------------------------------------------------------
# logs

DATABASE_ERRORS = (
    ("FATAL", re.compile(r"\bFATAL\b")),
    (
        "too many connections",
        re.compile(r"too many connections|remaining connection slots are reserved", re.IGNORECASE),
    ),
    ("password authentication failed", re.compile(r"password authentication failed", re.IGNORECASE)),
    (
        "SSL error",
        re.compile(
            r"\bSSL\b.*(error|required|off|not supported)|self[- ]signed certificate"
            r"|no pg_hba\.conf entry.*SSL off",
            re.IGNORECASE,
        ),
    ),
    ("ECONNREFUSED", re.compile(r"ECONNREFUSED")),
    ("relation does not exist", re.compile(r"relation \S+ does not exist", re.IGNORECASE)),
)

_LOG_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?([+-]\d{2}:\d{2}|Z)\s")


def log_time(line: str) -> datetime | None:
    match = _LOG_TIME.match(line)
    if not match:
        return None
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    return datetime.fromisoformat(match.group(1) + zone)


def database_errors(logs: str, since: datetime) -> list[tuple[str, str]]:
    """``(kind, line)`` for every log line newer than ``since`` that shows a database error."""
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    found = []
    for line in logs.splitlines():
        when = log_time(line)
        if when is None or when < since:
            continue
        for kind, pattern in DATABASE_ERRORS:
            if pattern.search(line):
                found.append((kind, line.strip()))
                break
    return found
