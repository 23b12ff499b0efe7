"""
The plan's parts: frozen dataclasses that say, per desired state, what the run will do and why.
Pure: built by :mod:`tasks.plan.build` from the run's facts, read by the operations, rendered by
:func:`Plan.lines` (the dry run) and :func:`Plan.as_dict` (``latest-run.json``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tasks.data.plan import Pending
from tasks.data.seed import SeedFile
from tasks.data.sides import Side
from tasks.migrations.files import Migration
from tasks.migrations.plan import TargetHistory


@dataclass(frozen=True)
class Problem:
    """A refusal: ``code`` to branch on, ``subject`` (what it is about), ``message`` (the one line the
    user sees: the thing, the cause and the way forward) and ``fix`` (the way forward alone)."""

    code: str
    subject: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        return self.message

    @classmethod
    def of(cls, code: str, subject: str, message: str) -> Problem:
        """A problem from a one-line message that ends with its way forward (after its last ``": "``)."""
        return cls(code, subject, message, message.rpartition(": ")[2])

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "subject": self.subject, "message": self.message, "fix": self.fix}


@dataclass(frozen=True)
class MigrationsPart:
    """The migration files against the target's ``schema_migrations``."""

    files: int
    pending: tuple[Migration, ...] = ()
    baseline: tuple[Migration, ...] = ()
    applied: int = 0
    problems: tuple[Problem, ...] = ()
    history: TargetHistory | None = None  # None: not readable (its problem says why)

    @property
    def readable(self) -> bool:
        return self.history is not None

    @property
    def converged(self) -> bool:
        return self.readable and not (self.pending or self.baseline or self.problems)

    @property
    def changes_schema(self) -> bool:
        """Whether the migrations step may change the target (or cannot tell yet: assume so)."""
        return not self.converged

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "applied": self.applied,
            "pending": [m.filename for m in self.pending],
            "baseline": [m.filename for m in self.baseline],
            "problems": [p.as_dict() for p in self.problems],
        }


@dataclass(frozen=True)
class CopyPart:
    """``DATA_MIGRATION=copy``: what the copy will write, or why it will refuse."""

    enabled: bool
    source: Side | None = None
    target: Side | None = None
    todo: Pending | None = None
    refusal: Problem | None = None  # known before any change (a table the migrations create is none)
    unreadable: Problem | None = None
    # with migrations pending: the tables and columns of the expected schema, what the copy will meet
    expected: dict[str, dict[str, str]] | None = None

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(self.todo.copy + self.todo.missing) if self.todo else ()

    @property
    def writes(self) -> bool:
        return bool(self.todo and (self.todo.anything or self.todo.conflicts))

    @property
    def writes_before_its_own_backup(self) -> bool:
        """Whether the copy writes what the target backup must cover: tables it fills, sequences it sets,
        views it refreshes. Tables it replaces (``COPY_CONFLICT=replace``, and the views refreshed with
        them) are not: the copy takes a verified backup of the target itself before it replaces."""
        todo = self.todo
        return bool(todo and (todo.copy or todo.missing or todo.sequences or (todo.views and not todo.replace)))

    def as_dict(self) -> dict[str, Any]:
        if not self.enabled:
            return {"enabled": False}
        todo = self.todo or Pending()
        return {
            "enabled": True,
            "copy": list(self.tables),
            "replace": list(todo.replace),
            "views": list(todo.views),
            "sequences": [name for name, _ in todo.sequences],
            "in_sync": todo.in_sync,
            "refusal": self.refusal.as_dict() if self.refusal else None,
            "unreadable": self.unreadable.as_dict() if self.unreadable else None,
        }


SEED_TABLE_MISSING = "seed-table-missing"  # a seed file's table is not there and no pending migration makes it


@dataclass(frozen=True)
class SeedTable:
    """The rows of one seed file not (or not so) in the target."""

    filename: str
    table: str
    missing: int
    updates: int
    sample: str  # the first keys, as the seed loader names them


@dataclass(frozen=True)
class SeedPart:
    """Seed rows missing per table (with ``SEED_MODE=upsert``, differing ones too)."""

    files: tuple[SeedFile, ...] = ()
    left_to_copy: tuple[SeedFile, ...] = ()  # their tables have rows in the source: the copy brings them
    tables: tuple[SeedTable, ...] = ()
    absent: tuple[str, ...] = ()  # tables not in the target (yet: a pending migration may make them)
    problem: Problem | None = None

    @property
    def rows_to_write(self) -> bool:
        return bool(self.absent or any(t.missing or t.updates for t in self.tables))

    @property
    def rows(self) -> int:
        """The rows to write: every row of the files when a table is not there yet (nothing is counted then)."""
        if self.absent:
            return sum(f.rows for f in self.files)
        return sum(t.missing + t.updates for t in self.tables)

    @property
    def refused_up_front(self) -> bool:
        """A problem known before any change (a table no pending migration makes): the run stops before
        the proof and the backup."""
        return self.problem is not None and self.problem.code == SEED_TABLE_MISSING

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": [f.filename for f in self.files],
            "left_to_copy": [f.filename for f in self.left_to_copy],
            "missing": {
                t.filename: {"missing": t.missing, "updates": t.updates} for t in self.tables if t.missing or t.updates
            },
            "absent_tables": list(self.absent),
            "problem": self.problem.as_dict() if self.problem else None,
        }


@dataclass(frozen=True)
class HerokuPart:
    """The Heroku app as read at the start of the run (None in the plan for a plain target)."""

    app: str
    pool_var: str
    pool_value: str | None
    web_dynos: int
    generation: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "pool_var": self.pool_var,
            "pool_value": self.pool_value,
            "web_dynos": self.web_dynos,
            "generation": self.generation,
        }


@dataclass(frozen=True)
class RiskFinding:
    """One line of the risk plan: a pending statement's lock on a table (``lock``), one file's statements
    on tables the run makes (``made``: nothing measured), a squawk finding (``lint``) or a note on what
    was not measured (``note``); ``high``: over ``RISK_TABLE_MB``."""

    kind: str
    file: str
    line: int
    text: str
    high: bool = False
    accepted: bool = False  # the file has the line ``-- pgconverge: accept-risk``
    shown: bool = True  # False: recorded, and counted in a line that stands for it (on what the run makes)
    reported_only: bool = False  # high, not accepted, and not refused: ``RISK_FAIL_ON=never``
    table: str = ""  # a ``lock`` line's table as the target resolves it, schema-qualified (``app.t``)
    writes_per_s: float = 0.0  # a ``lock`` line's table: writes a second (a partitioned one's: its partitions')

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.file,
            "line": self.line,
            "text": self.text,
            "high": self.high,
            "accepted": self.accepted,
            "shown": self.shown,
            "reported_only": self.reported_only,
            "table": self.table,
            "writes_per_s": self.writes_per_s,
        }


@dataclass(frozen=True)
class RiskPart:
    """The pending migrations' risk measured on the target: what each statement locks or rewrites,
    sized by the target's tables, squawk's findings, and the problems that stop the run before the
    backup (data that will fail, a high risk not accepted with ``RISK_FAIL_ON=high``)."""

    pending: int = 0  # files measured (0: nothing pending, or not measurable: ``skipped`` says why)
    findings: tuple[RiskFinding, ...] = ()
    problems: tuple[Problem, ...] = ()
    skipped: str = ""

    @property
    def high(self) -> int:
        return sum(f.high for f in self.findings)

    @property
    def refusal(self) -> Problem | None:
        """The first problem, its message counting the others (the run stops on it)."""
        if not self.problems:
            return None
        first, more = self.problems[0], len(self.problems) - 1
        return (
            first if not more else Problem(first.code, first.subject, f"{first.message} (and {more} more)", first.fix)
        )

    def lines(self) -> list[str]:
        return [f.text for f in self.findings if f.shown]

    def as_dict(self) -> dict[str, Any]:
        return {
            "pending": self.pending,
            "findings": [f.as_dict() for f in self.findings],
            "problems": [p.as_dict() for p in self.problems],
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class TargetPart:
    """Whether the target changes in this run, and why (what the target backup decides on)."""

    reasons: tuple[str, ...] = ()
    refusal: Problem | None = None  # the run is bound to fail: stop before the backup and any change

    @property
    def changes(self) -> bool:
        return bool(self.reasons)

    def as_dict(self) -> dict[str, Any]:
        return {
            "changes": self.changes,
            "reasons": list(self.reasons),
            "refusal": self.refusal.as_dict() if self.refusal else None,
        }


@dataclass(frozen=True)
class Plan:
    """The whole plan, as far as the run built it (a part the run never needed is None)."""

    migrations: MigrationsPart | None = None
    copy: CopyPart | None = None
    seed: SeedPart | None = None
    target: TargetPart | None = None
    heroku: HerokuPart | None = None
    proof_needed: bool | None = None  # the migrations are proven on a shadow database in this run
    risk: RiskPart | None = None

    def findings(self) -> list[dict[str, Any]]:
        """The risk findings of the pending migrations, as the plan record keeps them."""
        return [f.as_dict() for f in self.risk.findings] if self.risk else []

    def as_dict(self) -> dict[str, Any]:
        parts = {
            "migrations": self.migrations,
            "copy": self.copy,
            "seed": self.seed,
            "target": self.target,
            "heroku": self.heroku,
            "risk": self.risk,
        }
        return {"proof_needed": self.proof_needed} | {
            name: part.as_dict() if part else None for name, part in parts.items()
        }

    def lines(self) -> list[str]:
        """The plan in a few lines, under the dry run's summary."""
        out = (
            []
            if self.proof_needed is None
            else [f"proof: {'prove the migrations on a shadow database' if self.proof_needed else 'already proven'}"]
        )
        if self.target:
            out.append(
                "target: "
                + (f"changes ({', '.join(self.target.reasons)})" if self.target.changes else "nothing will change")
                + (f"; refused: {self.target.refusal}" if self.target.refusal else "")
            )
        if self.migrations:
            m = self.migrations
            names = [x.filename for x in m.pending]
            out.append(
                f"migrations: {m.applied} applied, {len(names)} pending"
                + (f" ({', '.join(names[:5])}{', …' if len(names) > 5 else ''})" if names else "")
                + (f", baseline up to {m.baseline[-1].filename}" if m.baseline else "")
                + "".join(f"; refused: {p}" for p in m.problems[:1])
            )
        if self.risk and self.risk.pending:
            r = self.risk
            out.append(
                f"risk: {sum(f.kind == 'lock' for f in r.findings)} table lock(s) measured, {r.high} high"
                + (f"; refused: {r.refusal}" if r.refusal else "")
            )
        if self.copy and self.copy.enabled:
            c = self.copy
            out.append(
                f"copy: {len(c.tables)} table(s) to copy"
                + (f", {len(c.todo.replace)} to replace" if c.todo and c.todo.replace else "")
                + (f"; refused: {c.refusal}" if c.refusal else "")
            )
        if self.seed:
            out.append(
                f"seed: {self.seed.rows} row(s) to write in {len(self.seed.files)} file(s)"
                + (f", {len(self.seed.absent)} table(s) not there yet" if self.seed.absent else "")
                + (f"; refused: {self.seed.problem}" if self.seed.problem else "")
            )
        if self.heroku:
            out.append(
                f"heroku: app {self.heroku.app}, {self.heroku.web_dynos} web dyno(s), "
                f"{self.heroku.pool_var}={self.heroku.pool_value or 'unset'}"
            )
        return out
