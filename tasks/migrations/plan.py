"""
What the target needs: compare the migration files with the target's ``schema_migrations``.

Vocabulary after Flyway and Atlas: *applied*, *pending*, *checksum mismatch* (edited after it
was applied), *unknown applied version* (in the target, not on disk), *out of order* (a new
file older than the newest applied one) and *baseline* (an existing database adopted at a
version without running the files up to it). Pure; unit-tested without a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tasks.core.clock import run_started
from tasks.migrations import example
from tasks.migrations.files import Migration


@dataclass(frozen=True)
class AppliedRow:
    version: int
    name: str
    checksum: str
    kind: str = "applied"  # or "baseline"
    applied_at: datetime | None = None


@dataclass(frozen=True)
class TargetHistory:
    """What the migrations fact reads from the target."""

    table_exists: bool
    user_tables: int  # tables other than schema_migrations, outside system schemas
    rows: tuple[AppliedRow, ...] = ()
    table_names: tuple[str, ...] = ()  # the first of them, "schema.table", in name order
    other_objects: int = 0  # views, matviews, sequences, foreign tables, functions, types
    object_names: tuple[str, ...] = ()  # the first of them, "<kind> schema.name"
    leftovers: int | None = None  # anything else a fresh database lacks (up to 6 counted); None: not read
    leftover_names: tuple[str, ...] = ()  # the first of them, as pg_describe_object says


@dataclass
class MigrationPlan:
    pending: list[Migration] = field(default_factory=list)
    baseline: list[Migration] = field(default_factory=list)
    applied: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def converged(self) -> bool:
        return not (self.pending or self.baseline or self.problems)


def _printable(name: str) -> str:
    """A name from the target's history, safe on one line (tabs and line breaks shown escaped)."""
    return name.encode("unicode_escape").decode("ascii") if not name.isprintable() else name


MISSING_NAMED = 3  # more applied versions without a file than this: one sentence, not one each


def _short(checksum: str) -> str:
    return checksum[:8] + "…"


def plan_migrations(
    files: list[Migration], history: TargetHistory, baseline_version: int | None, started_at: datetime | None = None
) -> MigrationPlan:
    plan = MigrationPlan()
    by_version = {m.version: m for m in files}
    rows = {row.version: row for row in history.rows}
    example_here = example.example_into_existing_database(files, rows, history)
    if example_here:
        plan.problems.append(example_here)
        return plan

    if not rows:
        if baseline_version is not None and not history.user_tables:
            plan.problems.append(
                f"BASELINE_VERSION={baseline_version} but the target has no tables: there is nothing to adopt, and "
                f"recording files up to {baseline_version} as applied without running them would leave their objects "
                "missing for good: unset BASELINE_VERSION so the files run"
            )
            return plan
        if baseline_version is not None:
            plan.baseline = [m for m in files if m.version <= baseline_version]
            plan.pending = [m for m in files if m.version > baseline_version]
            return plan
        if history.user_tables:
            plan.problems.append(
                f"the target has {history.user_tables} table(s) but no schema_migrations history: "
                "set BASELINE_VERSION=N to adopt it at version N (files up to N are recorded, not run)"
            )
            return plan
        plan.pending = list(files)
        return plan

    missing = [(version, row) for version, row in sorted(rows.items()) if version not in by_version]
    if len(missing) > MISSING_NAMED:  # one sentence: most likely MIGRATIONS_DIR is another folder
        named = ", ".join(f"{v:03d}_{_printable(row.name)}.sql" for v, row in missing[:MISSING_NAMED])
        plan.problems.append(
            f"{len(missing)} versions applied in the target have no file here ({named}, …): point MIGRATIONS_DIR "
            "at the folder they were applied from, or restore the files"
        )
    for version, row in sorted(rows.items()):
        migration = by_version.get(version)
        if migration is None:
            if len(missing) <= MISSING_NAMED:
                plan.problems.append(
                    f"version {version} ({_printable(row.name)}) is applied in the target but has no file: "
                    f"restore {version:03d}_{_printable(row.name)}.sql, or point MIGRATIONS_DIR at the right folder"
                )
        elif migration.name != row.name and migration.checksum != row.checksum:
            plan.problems.append(
                f"version {version} in the target is {version:03d}_{_printable(row.name)}.sql, but the file here is "
                f"{migration.filename}: another deploy applied a different file as version {version}: "
                f"renumber {migration.filename} above the newest applied version {max(rows)}"
            )
        elif migration.checksum != row.checksum and row.applied_at and row.applied_at >= (started_at or run_started()):
            plan.problems.append(
                f"another deploy applied a different {migration.filename} as version {version} while this run was "
                f"going (at {row.applied_at:%H:%M:%S} UTC, checksum {_short(row.checksum)} ≠ "
                f"{_short(migration.checksum)}): "
                "compare the two files, then renumber yours above the newest applied version"
            )
        elif migration.checksum != row.checksum:
            plan.problems.append(
                f"migration {migration.filename} was edited after it was applied "
                f"(checksum {_short(row.checksum)} ≠ {_short(migration.checksum)}): "
                "restore the file and put the change in a new migration"
            )
    plan.applied = len(rows)
    newest = max(rows)
    for migration in files:
        if migration.version in rows:
            continue
        if migration.version < newest:
            # From the history alone a new file numbered too low and a deleted row look the same: say both.
            later = [v for v in sorted(rows) if v > migration.version]
            plan.problems.append(
                f"migration {migration.filename} is not in the target's schema_migrations, but version(s) after it "
                f"are ({', '.join(map(str, later[:3]))}{', …' if len(later) > 3 else ''}): if the file is new, it is "
                f"out of order: renumber it above {newest}; if its row was deleted, restore the row"
            )
        else:
            plan.pending.append(migration)
    return plan
