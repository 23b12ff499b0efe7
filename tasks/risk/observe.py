"""
Observed, not looked up: during the proof (on the shadow database) each statement of a transactional
file runs in its own round trip, and after it this reads, in the same transaction, the locks its
backend holds (``pg_locks`` of its own pid) on the tables that existed before the file, and which of
them were rewritten (their ``relfilenode`` changed). Kept with the proof's cache:
``STATE_DIR/risk/<file checksum>.json``, so later runs (and ``--dry``) read it without a proof.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from tasks.core.private import write_private

KEY = "observe 2"  # 2: every table named with its schema (1: as the session's search_path printed it)
BEFORE_SQL = """
SELECT c.oid::int8, c.relfilenode::int8, pg_catalog.format('%I.%I', n.nspname, c.relname)
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
"""
HELD_SQL = """
SELECT l.relation::int8, l.mode, c.relfilenode::int8 FROM pg_catalog.pg_locks l
  JOIN pg_catalog.pg_class c ON c.oid = l.relation
 WHERE l.pid = pg_catalog.pg_backend_pid() AND l.locktype = 'relation' AND l.granted AND l.relation = ANY(%s)
"""
ORDER = [
    "AccessShareLock",
    "RowShareLock",
    "RowExclusiveLock",
    "ShareUpdateExclusiveLock",
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
]


NODES_SQL = "SELECT c.oid::int8, c.relfilenode::int8 FROM pg_catalog.pg_class c WHERE c.oid = ANY(%s)"


def lock_name(mode: str) -> str:
    """``AccessExclusiveLock`` → ``ACCESS EXCLUSIVE`` (as LOCK TABLE and the docs write it)."""
    return " ".join(re.findall(r"[A-Z][a-z]+", mode.removesuffix("Lock"))).upper()


def stronger_or_equal(lock: str, than: str) -> bool:
    """``lock`` (as SQL writes it: ``ACCESS EXCLUSIVE``) conflicts at least as much as ``than``."""
    names = [lock_name(mode) for mode in ORDER]
    return lock in names and than in names and names.index(lock) >= names.index(than)


def strongest(modes: list[str]) -> str:
    return max(modes, key=lambda mode: ORDER.index(mode) if mode in ORDER else -1)


@dataclass
class Seen:
    """One statement: the strongest lock its transaction holds on each table (pg_locks' mode names),
    and the tables it rewrote."""

    line: int
    held: dict[str, str]
    rewritten: list[str]


@dataclass
class Observer:
    """Given to :func:`tasks.migrations.engine.apply_migrations` by the proof."""

    seen: dict[str, list[Seen]] = field(default_factory=dict)  # file checksum -> its statements
    before: dict[int, tuple[int, str]] = field(default_factory=dict)  # oid -> (relfilenode, name)
    files: dict[int, int] = field(default_factory=dict)  # oid -> relfilenode after the last statement

    def start(self, conn, migration) -> None:
        self.before = {oid: (node, name) for oid, node, name in conn.execute(BEFORE_SQL).fetchall()}
        self.files = {oid: node for oid, (node, _) in self.before.items()}
        self.seen[migration.checksum] = []

    def held_sql(self) -> str:
        """The locks query after a statement, in the same message (the oids are integers of our own)."""
        return HELD_SQL.replace("%s", "'{" + ",".join(map(str, self.before)) + "}'::oid[]")

    def after(self, conn, migration, statement) -> None:
        self.record(migration, statement, conn.execute(self.held_sql()).fetchall())

    def rewrites(self, conn, migration, statement) -> None:
        """After a statement of a no-transaction file (it has committed: its locks are gone, its rewrites
        are not): which tables it rewrote, no lock held."""
        rows = conn.execute(NODES_SQL, (list(self.before),)).fetchall()
        self.record(migration, statement, [(oid, "", node) for oid, node in rows])

    def record(self, migration, statement, rows: list) -> None:
        """What :data:`HELD_SQL` answered after ``statement`` (values as text or bytes, or typed)."""
        held: dict[str, list[str]] = {}
        rewritten = []
        for raw_oid, raw_mode, raw_node in rows:
            oid, node = int(raw_oid), int(raw_node)
            mode = raw_mode.decode() if isinstance(raw_mode, bytes) else str(raw_mode)
            name = self.before[oid][1]
            if mode:
                held.setdefault(name, []).append(mode)
            if node != self.files.get(oid):
                rewritten.append(name)
                self.files[oid] = node
        self.seen[migration.checksum].append(
            Seen(statement.line, {name: strongest(modes) for name, modes in held.items()}, sorted(set(rewritten)))
        )


def effects(seen: list[Seen]) -> dict[int, dict[str, tuple[str, bool]]]:
    """Per line: the tables whose lock the statement took or strengthened, or which it rewrote →
    (lock level as SQL writes it, rewritten)."""
    found: dict[int, dict[str, tuple[str, bool]]] = {}
    previous: dict[str, str] = {}
    for one in seen:
        mine = found.setdefault(one.line, {})
        for name, mode in one.held.items():
            if (
                name in one.rewritten
                or ORDER.index(mode) > ORDER.index(previous.get(name, "AccessShareLock"))
                or name not in previous
            ):
                mine[name] = (lock_name(mode), name in one.rewritten)
        for name in one.rewritten:  # seen rewritten, its lock not (a no-transaction file): a rewrite's lock
            mine.setdefault(name, ("ACCESS EXCLUSIVE", True))
        previous = one.held
    return found


def path(state_dir: Path, checksum: str) -> Path:
    return Path(state_dir) / "risk" / f"{checksum}.json"


def save(state_dir: Path, observer: Observer) -> None:
    for checksum, seen in observer.seen.items():
        entry = {"key": KEY, "statements": [[s.line, s.held, s.rewritten] for s in seen]}
        write_private(path(state_dir, checksum), json.dumps(entry))


def load(state_dir: Path, checksum: str) -> list[Seen] | None:
    """What the proof saw a file do; None when it was not observed (or the entry is damaged)."""
    try:
        entry = json.loads(path(state_dir, checksum).read_text())
        if entry.get("key") != KEY:
            return None
        return [
            Seen(int(line), {str(k): str(v) for k, v in held.items()}, [str(n) for n in rewritten])
            for line, held, rewritten in entry["statements"]
        ]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
