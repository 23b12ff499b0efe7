"""
Building the plan from the run's facts. Each part is built when a state first asks for it and kept
under the same rules as the facts it reads (:func:`tasks.core.fact.remember`): forgotten after any
change this run makes, and read once more after pyinfra's prompt. A part no state needs (the copy in
fresh mode) is never read. What was built last is kept for the run's report (:meth:`Planner.built`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from tasks.core.fact import remember
from tasks.data import plan as copyplan
from tasks.data import refusals as copyrefusals
from tasks.data import seed as seed_files
from tasks.data import sides as copysides
from tasks.data.seed import SeedFile
from tasks.facts import CopySetAside, CopyState, MigrationHistory, RowCounts, Unreadable, read
from tasks.migrations.files import Migration
from tasks.migrations.plan import plan_migrations
from tasks.plan.foresee import differs_after, expected_after
from tasks.plan.model import (
    SEED_TABLE_MISSING,
    CopyPart,
    HerokuPart,
    MigrationsPart,
    Plan,
    Problem,
    RiskPart,
    SeedPart,
    SeedTable,
    TargetPart,
)
from tasks.plan.risk import measure

if TYPE_CHECKING:
    from tasks.heroku.app import HerokuApp

Part = TypeVar("Part")


class RunInputs(Protocol):
    """What the plan takes from the run (:class:`tasks.run.Run`): the plan never imports the run."""

    settings: Any
    migrations: list[Migration]
    seeds: list[SeedFile]
    heroku: HerokuApp | None
    source_service: str
    target_service: str


def planning() -> bool:
    """True while pyinfra runs the op bodies to detect changes (``--dry`` or before the prompt)."""
    from pyinfra.context import ctx_state

    return not (ctx_state.isset() and ctx_state.get().is_executing)


def unreadable(code: str, subject: str, what: str, exc: Unreadable) -> Problem:
    return Problem(
        code, subject, f"cannot read {what}: {exc.error}", "check that the database is reachable, then run again"
    )


@dataclass(repr=False)
class Planner:
    """The run's plan, part by part. ``source``/``target``: the services the facts are read from."""

    migrations: list[Migration]
    seeds: list[SeedFile]
    baseline_version: int | None = None
    seed_upsert: bool = False
    copy: bool = False  # DATA_MIGRATION=copy
    copy_replace: bool = False  # COPY_CONFLICT=replace
    heroku_app: HerokuApp | None = None
    state_dir: str = ".pgconverge"  # the proof's expected schema, the Heroku checks' memory
    source: str = "source"
    target: str = "target"
    risk_table_mb: float = 100.0  # RISK_TABLE_MB: above it a rewrite, index build or validation is a high risk
    risk_fail_on: str = "high"  # RISK_FAIL_ON: ``high`` refuses a high risk, ``never`` only reports it
    seen: dict[str, object] = field(default_factory=dict)
    # the parts as the target part was decided on (before the run changes the target), and in which phase
    decided: dict[str, object] = field(default_factory=dict)
    phase: bool | None = None  # True while planning (see :func:`planning`)
    observed: set[str] = field(default_factory=set)  # files whose proof observation was read in this run

    def __repr__(self) -> str:  # short, and nothing of the Heroku app's URL
        return (
            f"Planner({len(self.migrations)} migration(s), {len(self.seeds)} seed file(s), "
            f"{'copy' if self.copy else 'fresh'}, {self.source} -> {self.target})"
        )

    @classmethod
    def of(cls, run: RunInputs) -> Planner:
        s = run.settings
        return cls(
            run.migrations,
            run.seeds,
            s.baseline_version,
            s.seed_upsert,
            s.data_migration == "copy",
            s.copy_replace,
            run.heroku,
            str(s.state_dir),
            run.source_service,  # each environment's own services (environments/*.env)
            run.target_service,
            risk_table_mb=s.risk_table_mb,
            risk_fail_on=s.risk_fail_on,
        )

    def _part(self, name: str, build: Callable[[], Part]) -> Part:
        phase = planning()
        if phase != self.phase:  # after the prompt every part is read again: what was decided before is not
            self.phase, self.decided = phase, {}
        part = remember(self.target, ("plan", name), build)
        self.seen[name] = part
        if name == "target":  # the plan the run went by: parts rebuilt after its changes are not recorded
            self.decided = dict(self.seen)
        return part

    # --- the parts -------------------------------------------------------------------------------

    def proof_needed(self) -> bool:
        """Whether this set of files (and seed files) was never proven, or what the proof observed of a
        file (its locks and rewrites, which the risk gate reads) is missing or unreadable: the proof runs
        in this run (read from the state folder, not the database)."""
        from tasks.migrations import expected
        from tasks.risk import observe

        folder = Path(self.state_dir)
        key = expected.seed_key(self.migrations, [(f.filename, f.text) for f in self.seeds])
        needed = (
            expected.load_expected(folder, self.migrations) is None
            or not expected.seeds_proven(folder, key)
            or any(not self._observed(observe, folder, m.checksum) for m in self.migrations)
        )
        self.seen.setdefault("proof_needed", needed)  # the report keeps what the run planned (the proof runs first)
        return needed

    def _observed(self, observe, folder: Path, checksum: str) -> bool:
        """Whether the proof's observation of a file is readable (once read, not read again in this run:
        the proof only adds them)."""
        if checksum not in self.observed and observe.load(folder, checksum) is not None:
            self.observed.add(checksum)
        return checksum in self.observed

    def migrations_part(self) -> MigrationsPart:
        """The files against ``schema_migrations``: pending, baseline, or the problems that refuse."""
        return self._part("migrations", self._migrations)

    def _migrations(self) -> MigrationsPart:
        try:
            history = read(MigrationHistory, self.target)
        except Unreadable as exc:
            problem = unreadable("unreadable", "schema_migrations", "the target's migration history", exc)
            return MigrationsPart(len(self.migrations), problems=(problem,))
        found = plan_migrations(self.migrations, history, self.baseline_version)
        problems = tuple(Problem.of("migration-history", "schema_migrations", text) for text in found.problems)
        return MigrationsPart(
            len(self.migrations), tuple(found.pending), tuple(found.baseline), found.applied, problems, history
        )

    def copy_part(self) -> CopyPart:
        """What the copy writes (exact counts only while planning, for the plan shown), or why it refuses."""
        return self._part("copy", self._copy)

    def _copy(self) -> CopyPart:
        if not self.copy:
            return CopyPart(False)
        counting = planning()
        # The target first (cheap while it is empty), then the source: checksums only where the target's
        # table is not empty, exact counts only for the plan shown at plan time (else: has it a row?).
        try:
            # with COPY_CONFLICT=replace: the keys a replace's DELETE cascades through, and the rows they reach
            target = read(CopyState, self.target, copysides.script([], [], with_cascades=self.copy_replace))
            need = copyplan.need_checksums(target)
            if need:  # each table's checksum once: only those with a row
                summed = read(CopyState, self.target, copysides.script(need, []))
                target = replace(target, tables={**target.tables, **{name: summed.tables[name] for name in need}})
        except Unreadable as exc:
            return CopyPart(
                True, unreadable=unreadable("unreadable", "target", "the target's tables for the copy", exc)
            )
        try:
            source = read(
                CopyState, self.source, copysides.script(copyplan.need_checksums(target), None if counting else [])
            )
        except Unreadable as exc:
            return CopyPart(
                True, unreadable=unreadable("unreadable", "source", "the source's tables for the copy", exc)
            )
        todo = copyplan.pending(source, target, self.copy_replace)
        # with migrations pending, the copy meets the expected schema, not the target's of now
        expected = None
        if self.migrations_part().changes_schema:
            expected = expected_after(self.source, self.migrations, self.state_dir)
        why = copyrefusals.refusal(source, target, todo, True, expected)
        if not why and self.migrations_part().pending:
            from tasks.plan import effects  # pglast: only with migrations pending

            copied = {source.plain.get(name, name) for name, table in source.tables.items() if table.rows}
            plain = [source.plain.get(name, name) for name in todo.replace]
            tops = [source.tables[name].parent for name in todo.replace if source.tables[name].parent]
            replaced = set(plain) | {top if "." in top else f"public.{top}" for top in tops}
            why = effects.refusal(self.migrations_part().pending, copied, replaced)
            checks = "" if why else effects.violations_script(self.migrations_part().pending, copied)
            if checks:  # the source's rows against the constraints the migrations add (read-only)
                try:
                    broken = read(CopyState, self.source, checks + "SELECT 'end', '', '';").violations
                except Unreadable as exc:
                    what = "the source's rows against new constraints"
                    return CopyPart(True, unreadable=unreadable("unreadable", "source", what, exc))
                why = effects.violations_refusal(broken)
        if not why and expected is not None and not self.copy_replace:
            why = differs_after(self.source, source, target, expected)
        refusal = Problem.of("copy-refused", "copy", why) if why else None
        return CopyPart(True, source, target, todo, refusal, expected=expected)

    def seed_part(self) -> SeedPart:
        """Seed rows missing per file (a table with rows in the source is the copy's, in copy mode)."""
        return self._part("seed", self._seed)

    def _seed(self) -> SeedPart:
        files, left = list(self.seeds), list[SeedFile]()
        if files and self.copy:
            try:
                source_rows = read(RowCounts, self.source)
            except Unreadable as exc:
                return SeedPart(
                    tuple(files), problem=unreadable("unreadable", "source", "the source's row counts", exc)
                )
            files, left = seed_files.owned_by_copy(files, source_rows)
        if not files:
            return SeedPart((), tuple(left))
        from tasks.data import (
            seed_load,  # psycopg: the rows travel as COPY data, never in a script
        )

        try:
            found = seed_load.missing(self.target, files, self.seed_upsert)
        except seed_load.SeedError as exc:
            return SeedPart(tuple(files), tuple(left), problem=Problem.of("seed-refused", "seed", str(exc)))
        tables = tuple(SeedTable(name, c.table, c.missing, c.updates, c.sample) for name, c in found["tables"].items())
        absent = tuple(found["absent"])
        if absent and self.migrations_part().converged:
            # no pending migration can make the table: the run would fail in the proof or the seed step
            first = next(f for f in files if f.table in absent)
            problem = Problem(
                SEED_TABLE_MISSING,
                f"{first.filename} {first.table}",
                f"seed file {first.filename}: table {first.table} does not exist in the target and no pending "
                "migration makes it: add a migration that creates it, or remove the file",
                "add a migration that creates it, or remove the file",
            )
            return SeedPart(tuple(files), tuple(left), tables, absent, problem)
        return SeedPart(tuple(files), tuple(left), tables, absent)

    def risk_part(self) -> RiskPart:
        """The pending migrations' risk on the target: locks, rewrites, sizes, squawk, the rows they
        would fail on, and the problems that stop the run before the backup."""
        return self._part("risk", self._risk)

    def _risk(self) -> RiskPart:
        migrations = self.migrations_part()
        if not migrations.readable:
            return RiskPart(skipped="history not readable here: the migrations step reports it")
        if migrations.problems or not migrations.pending:
            return RiskPart(skipped="no pending migration")
        return measure(self.target, list(migrations.pending), self.state_dir, self.risk_table_mb, self.risk_fail_on)

    def target_part(self) -> TargetPart:
        """Whether the target changes in this run and why; a refusal known before any change."""
        return self._part("target", self._target)

    def _target(self) -> TargetPart:
        migrations = self.migrations_part()
        reasons: list[str] = []
        if self.copy:
            copy = self.copy_part()
            if copy.refusal and (not migrations.changes_schema or copy.expected is not None):
                # with migrations pending, the copy was foreseen against the expected schema; when that
                # could not be proven, the proof step says why and the copy step checks after them
                return TargetPart((), copy.refusal)
            if copy.writes_before_its_own_backup:
                reasons.append("data to copy")
        if migrations.readable:
            if migrations.problems:
                return TargetPart()  # the migrations step refuses before anything changes
            risk = self.risk_part()
            if risk.refusal:  # data that will fail, or a high risk: stop before the backup and any change
                return TargetPart((), risk.refusal)
            held = self.held_by_copy()
            if held:
                return TargetPart((), held)
            aside = self.set_aside() if migrations.pending and self.copy else frozenset()
            if aside:
                reasons.append(f"{len(aside)} object(s) an interrupted data copy set aside, put back first")
            if migrations.pending or migrations.baseline:
                reasons.append(f"{len(migrations.pending)} pending migration(s)")
        seed = self.seed_part()
        if seed.refused_up_front:
            return TargetPart((), seed.problem)  # known before any change: stop before the backup
        if seed.problem is None and seed.rows_to_write:
            reasons.append("seed rows to insert")
        return TargetPart(tuple(reasons))

    def set_aside(self) -> frozenset[str]:
        """What an interrupted data copy set aside in the target (empty when it cannot be read: the
        schema check reads it again and says why)."""
        try:
            return read(CopySetAside, self.target)
        except Unreadable:
            return frozenset()

    def held_by_copy(self) -> Problem | None:
        """Without ``DATA_MIGRATION=copy``, an interrupted data copy's indexes, keys or triggers still set
        aside: only the copy puts them back (with the copy, the migrations step puts them back first)."""
        if self.copy:
            return None
        aside = self.set_aside()
        if not aside:
            return None
        return Problem.of(
            "copy-set-aside",
            min(aside),
            f"{len(aside)} index(es), key(s) or trigger(s) of the target are still set aside by an interrupted data "
            f"copy (schema pgconverge, e.g. {min(aside)}): run once with DATA_MIGRATION=copy to put them back",
        )

    def heroku(self) -> HerokuPart | None:
        app = self.heroku_app
        if app is None:
            return None
        return HerokuPart(app.name, app.pool_var, app.pool_value, app.dynos.web, app.dynos.generation)

    def built(self) -> Plan:
        """The plan as the states saw it before the target changed: the parts the target part was decided
        on, else as last built (no database read: parts never asked for stay None)."""
        seen: dict[str, Any] = self.seen | self.decided
        return Plan(
            seen.get("migrations"),
            seen.get("copy"),
            seen.get("seed"),
            seen.get("target"),
            self.heroku(),
            seen.get("proof_needed"),
            seen.get("risk"),
        )
