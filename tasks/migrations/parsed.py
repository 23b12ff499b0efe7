"""
How each migration file splits, kept so PostgreSQL's parser splits a file once, not on every run:
``STATE_DIR/parsed/<file checksum>.json`` holds where each statement starts and ends, its line and
its kind, and what the deploy asks of the parse trees later (the schemas it needs or creates, the
concurrent indexes of a no-transaction file). An entry is written only after a proof of a set
holding the file, so it also says the file passed every check; its key names the checks' and
the parser's versions, so a new version splits and checks again. A missing, damaged or foreign
entry is never an error: the file is then split as usual. Like the expected schema beside it, the
folder is the tool's private state (0700), trusted as such; the statements' text is always the
file's own, and the schema check after the migrations compares the result with the proof's.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from tasks.core.parser_version import parser_version
from tasks.core.private import read_regular_text, write_private
from tasks.migrations.expected import CHECKS
from tasks.migrations.files import Migration
from tasks.migrations.sqlsplit import Statement, line_of


@functools.cache
def key() -> str:
    return f"checks {CHECKS}, pglast {parser_version()}"


def _path(state_dir: Path, migration: Migration) -> Path:
    return Path(state_dir) / "parsed" / f"{migration.checksum}.json"


_folder: Path | None = None


def keep_in(state_dir: Path) -> None:
    """Where the run's files look for their kept split (read when a file's statements are first used)."""
    global _folder
    _folder = Path(state_dir)


def kept(migration: Migration) -> tuple[Statement, ...] | None:
    """The file's kept statements, giving it what was read from them too; None when none are kept."""
    if _folder is None:
        return None
    try:
        entry = json.loads(read_regular_text(_path(_folder, migration)))
        if entry.get("key") != key():
            return None
        statements = _statements(migration.sql, entry["statements"])
        needs = tuple((schema, created) for schema, created in entry["needs"])
        indexes = tuple(entry["concurrent_indexes"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not statements:
        return None  # damaged: the file is split again
    migration.__dict__.update(needs=needs, concurrent_indexes=indexes, proven=True)
    return statements


def _statements(sql: str, places: list) -> tuple[Statement, ...]:
    """The statements at these places of ``sql``; none when the places cannot be the parser's (out of
    order, overlapping, outside the text, on another line, or starting or ending in white space)."""
    found, after, counted, at_line = [], 0, 0, 1
    for first, end, line, kind in places:
        if not (isinstance(first, int) and isinstance(end, int) and after <= first < end <= len(sql)):
            return ()
        at_line += line_of(sql[counted:first], first - counted) - 1  # line breaks since the last one
        counted = first
        text = sql[first:end]
        if text != text.strip() or line != at_line or not isinstance(kind, str):
            return ()
        found.append(Statement(text, line, first, kind))
        after = end
    return tuple(found)


def save(state_dir: Path, migrations: list[Migration]) -> None:
    """Keep the split of every file of a set just proven (each file once)."""
    for migration in migrations:
        path = _path(state_dir, migration)
        if path.exists():
            continue
        entry = {
            "key": key(),
            "file": migration.filename,
            "statements": [[s.offset, s.offset + len(s.text), s.line, s.kind] for s in migration.statements],
            "needs": [list(pair) for pair in migration.needs],
            "concurrent_indexes": list(migration.concurrent_indexes),
        }
        write_private(path, json.dumps(entry))
