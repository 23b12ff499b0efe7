"""
Data copied: the source's rows into the target, table by table, verified before each commit.

* The source is read in one exported REPEATABLE READ snapshot, so every table comes from the same
  moment, whichever connection reads it.
* Every relation that holds rows is copied ``FROM ONLY`` itself (:mod:`tasks.data.relations`):
  plain tables, leaf partitions at any depth, inheritance parents and children. Columns are matched
  by name; a column on one side only is refused by name. Generated columns are left to the target.
* Each target table is filled in its own transaction: a binary ``COPY`` stream from a ``psql`` in
  the snapshot (only ``service=NAME`` on its command line), then the target's row count and
  checksum (:mod:`tasks.data.checksum`) are compared with the source's *before* COMMIT. A killed
  run, a lost connection or a mismatch leaves the table as it was.
* ``jobs`` tables load at once, each as soon as the tables it references are in; the source's
  checksum of a table is computed while it streams, once per run (:mod:`tasks.data.loader`).
* Then materialized views populated in the source are refreshed, sequences moved forward, never
  back (:mod:`tasks.data.sequences`), the loaded tables analysed, and the independent completeness
  check (:mod:`tasks.data.check`) must pass.
* A table whose rows already match is left alone, and so is a table that is empty in the source
  (seed files may fill it); a non-empty table that differs is refused unless
  ``COPY_CONFLICT=replace`` (its rows are deleted and reloaded in the same transaction).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from tasks.core import waits
from tasks.core.connections import conninfo
from tasks.core.lock import acquire_lock
from tasks.core.progress import Throughput
from tasks.data import cascades, check, journal, loader, ranged, rebuild, relations, schedule, sequences
from tasks.data.checksum import PINNED_FORMAT
from tasks.data.loader import Source, first_line, transient
from tasks.data.order import dependency_order, load_groups
from tasks.data.plan import CONNECTION_RESERVE, capped_jobs
from tasks.data.refusals import (
    conflict_refusal,
    force_rls_refusal,
    large_objects_refusal,
    missing_refusal,
    table_refusals,
)
from tasks.data.sides import Side
from tasks.data.tables import Catalog, CopyError, TableState, table_state  # noqa: F401  (callers' names)

LOCK_WAIT_S = 60.0
SPLIT_MB = 64  # COPY_SPLIT_MB's default
SIZES_SQL = "SELECT t, pg_table_size(t::regclass) FROM unnest(%s::text[]) t"  # heap and TOAST: what is read
# The target's tables that were never analysed, by anyone.
NEVER_ANALYSED_SQL = """
SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables
 WHERE last_analyze IS NULL AND last_autoanalyze IS NULL
"""
# Every table above the given ones (formatted names) in a partition or inheritance tree, all parents.
ANCESTORS_SQL = """
WITH RECURSIVE up(rel) AS (
    SELECT inhparent FROM pg_inherits WHERE inhrelid = ANY(%s::regclass[])
    UNION
    SELECT i.inhparent FROM pg_inherits i JOIN up ON i.inhrelid = up.rel
)
SELECT format('%%I.%%I', n.nspname, c.relname) FROM up JOIN pg_class c ON c.oid = up.rel
  JOIN pg_namespace n ON n.oid = c.relnamespace
"""


@dataclass
class Known:
    """Checksums the run's plan computed (``{table: TableState}`` per side): each table's checksum is
    computed once a run, so the copy takes these instead of reading the tables again."""

    source: dict[str, TableState] = field(default_factory=dict)
    target: dict[str, TableState] = field(default_factory=dict)

    @classmethod
    def of(cls, source: Side, target: Side) -> Known:
        """The summed tables of the plan's two sides (:mod:`tasks.data.plan`)."""
        return cls(
            *(
                {n: TableState(n, r.rows, r.checksum) for n, r in s.tables.items() if r.checksum}
                for s in (source, target)
            )
        )

    def sides(self) -> tuple[dict[str, TableState], dict[str, TableState]]:
        return self.source, self.target


@dataclass
class CopyPlan:
    copy: list[str]  # empty in the target: copy
    replace: list[str]  # differing, non-empty: replace (only with COPY_CONFLICT=replace)
    conflicts: list[tuple[TableState, TableState]]  # differing, non-empty, refused
    in_sync: list[str]
    missing_in_target: list[str]
    views: list[str] = field(default_factory=list)  # materialized views refreshed
    sequences: int = 0  # sequences moved forward
    cascaded: list[cascades.Cascade] = field(default_factory=list)  # children a replace acts on, reloaded
    analyzed: list[str] = field(default_factory=list)  # tables whose statistics were updated


def compare(
    source: dict[str, TableState],
    target: dict[str, TableState],
    order: list[str],
    replace: bool,
    resumed: frozenset[str] = frozenset(),
) -> CopyPlan:
    """Pure: what to do with each source table. A source state with ``checksum=None`` means "has
    rows, checksum not computed": enough when the target's table is empty or missing. A table an
    earlier run left half-copied (``resumed``) is copied on to the source's rows, even to none."""
    plan = CopyPlan([], [], [], [], [])
    for table in order:
        have, want = target.get(table), source[table]
        if want.rows == 0 and table not in resumed:
            # an empty source table has nothing to bring (seed files may fill it in the target)
            plan.in_sync.append(table)
        elif have is None:
            plan.missing_in_target.append(table)
        elif have.rows == 0:
            plan.copy.append(table)
        elif (have.rows, have.checksum) == (want.rows, want.checksum):
            plan.in_sync.append(table)
        elif replace:
            plan.replace.append(table)
        else:
            plan.conflicts.append((want, have))
    return plan


def _refresh_views(
    catalogs: tuple[Catalog, Catalog], dst: psycopg.Connection, tables_written: bool, log: Callable[[str], None]
) -> list[str]:
    """Refresh the target's materialized views that are populated in the source: all of them after
    tables were written, else those unpopulated or of another row count (their rows are derived)."""
    src, tgt = catalogs
    populated_there: dict[str, bool] = dict(tgt.views)
    refreshed = []
    for view, populated in src.views:
        if not populated or view not in populated_there:
            continue
        if not tables_written and populated_there[view] and tgt.state(view, fresh=True).rows == src.state(view).rows:
            continue
        dst.execute(sql.SQL("REFRESH MATERIALIZED VIEW {}").format(sql.SQL(view)))
        tgt.state(view, fresh=True)
        log(f"{view}: materialized view refreshed")
        refreshed.append(view)
    return refreshed


def _refusals(src: psycopg.Connection, source: Catalog, target: Catalog) -> list[str]:
    count, oids = src.execute(relations.LARGE_OBJECTS_SQL).fetchone() or (0, "")
    large_objects = large_objects_refusal(count, oids)
    problems = [large_objects] if large_objects else []
    for conn, side in ((src, "source"), (target.conn, "target")):
        forced = force_rls_refusal([row[0] for row in conn.execute(relations.FORCE_RLS_SQL).fetchall()], side)
        problems += [forced] if forced else []
    present = set(target.tables)
    for table in source.tables:
        if table in present and source.has_rows(table):
            problems += table_refusals(table, source.column_types(table), target.column_types(table))
    return problems


def copy_data(
    source_service: str,
    target_service: str,
    replace: bool,
    log: Callable[[str], None],
    before_replace: Callable[[], None] | None = None,
    jobs: int = 1,
    known: Known | None = None,
    split_mb: int = SPLIT_MB,
    expected: dict | None = None,
) -> CopyPlan:
    """Bring the target's rows to the source's; return what was done. ``before_replace`` runs first
    when a table will be replaced (the target backup). A table copied into empty above ``split_mb``
    is copied in ranges by all ``jobs``; with ``expected`` (the expected schema), the catalog is
    compared with it again once what the copy set aside is back."""
    try:
        return _copy_data(
            source_service, target_service, replace, log, before_replace, jobs, known, split_mb << 20, expected
        )
    except psycopg.Error as exc:
        hint = (
            "check both databases (running, disk space) and run again"
            if transient(exc)
            else "a rerun fails the same way: fix the cause named here first"
        )
        if waits.is_statement_timeout(exc):
            hint = waits.STATEMENT_TIMEOUT_CAUSE
        raise CopyError(
            f"the copy stopped ({first_line(exc)}): every table not reported verified was rolled back; {hint}"
        ) from exc


def _copy_data(
    source_service, target_service, replace, log, before_replace, jobs, known, split_bytes, expected
) -> CopyPlan:
    with (
        psycopg.connect(conninfo(source_service), autocommit=True) as src,
        psycopg.connect(conninfo(target_service), autocommit=True) as dst,
    ):
        acquire_lock(dst, LOCK_WAIT_S, log)  # one copy at a time; the plan is made under the lock
        src.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        source = Source(source_service, src.execute("SELECT pg_export_snapshot()").fetchone()[0])  # type: ignore[index]
        for conn in (src, dst):
            conn.execute(PINNED_FORMAT)
            conn.execute(waits.OWN_STATEMENT_TIMEOUT)  # the tool's long reads: not a role's statement_timeout
        catalogs = Catalog(src), Catalog(dst)
        problems = _refusals(src, *catalogs)
        if problems:
            raise CopyError(problems[0] + (f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""))
        order = dependency_order(catalogs[0].tables, catalogs[0].references)
        present = set(catalogs[1].tables)
        for catalog, states in zip(catalogs, (known or Known()).sides(), strict=True):
            for state in states.values():
                catalog.remember(state)
        # an empty target table needs no checksum (its rows are computed once loaded), nor does the
        # source's table that fills it (it is summed while it streams)
        # a table an earlier run left half-copied (its ranges in the journal) is copied on, as if empty
        resumed = ranged.resuming(dst)
        if replace:  # one the application wrote into is reloaded whole
            resumed -= ranged.written_over(dst, resumed)
        target = {
            t: catalogs[1].state(t) if t not in resumed and catalogs[1].has_rows(t) else TableState(t, 0, None)
            for t in order
            if t in present
        }
        wanted = {
            t: (
                catalogs[0].state(t)
                if target.get(t) and target[t].rows
                else TableState(t, int(catalogs[0].has_rows(t)), None)
            )
            for t in order
        }
        plan = compare(wanted, target, order, replace, frozenset(resumed))
        ranged.abandon(dst, resumed - set(order), log)
        if plan.missing_in_target:
            raise CopyError(missing_refusal(plan.missing_in_target[0]))
        if plan.conflicts:
            want, have = plan.conflicts[0]
            raise CopyError(conflict_refusal(want.table, have.rows, want.rows))
        if plan.replace:
            reloadable = {t for t in plan.in_sync if wanted[t].rows}
            found = cascades.read(dst)
            plan.cascaded, lost = cascades.follow(plan.replace, found, reloadable)
            tree = sorted(cascades.reached(plan.replace, found))
            problem = cascades.rules_refusal(
                dst.execute(cascades.DELETE_RULES_SQL, (tree,)).fetchall(), plan.replace
            ) or cascades.refusal(lost)
            if problem:
                raise CopyError(problem)
            for cascade in plan.cascaded:
                log(f"replacing {cascade.parent} {cascade.describe()}: reloaded from the source")
            plan.replace += [c.child for c in plan.cascaded]
            plan.in_sync = [t for t in plan.in_sync if t not in plan.replace]
        if plan.replace and before_replace:
            before_replace()
        work = [(t, False) for t in plan.copy] + [(t, True) for t in plan.replace]
        if jobs > 1 and len(work) > 1:
            free = dst.execute(relations.FREE_CONNECTIONS_SQL).fetchone()[0]  # type: ignore[index]
            if capped_jobs(jobs, free) < jobs:
                log(
                    f"COPY_JOBS={jobs} lowered to {capped_jobs(jobs, free)}: the target has {free} free connection(s) "
                    f"and {CONNECTION_RESERVE} are left for others"
                )
                jobs = capped_jobs(jobs, free)
        # a replaced table and the children its DELETE cascades to are one transaction, checked again
        # under lock (a cascade the plan did not foresee, or rows written since, roll it back)
        singles = [g[0] for g in load_groups(plan.copy, catalogs[0].references) if len(g) == 1]
        sizes: dict[str, int] = dict(src.execute(SIZES_SQL, ([t for t, _ in work],)).fetchall()) if work else {}
        # counted from here: a wait for an application's lock to set a table's indexes aside is copy time
        progress = Throughput("copy", len(work), sum(sizes.values()), log)
        split = ranged.prepare(src, dst, singles, split_bytes, log)
        # the tables whose indexes and keys are put back below: copied by this run, or by a killed one
        # (whose statistics were never taken), analysed at the end with this run's
        rebuilt = {item.table for item in journal.aside(dst)} if journal.exists(dst) else set()
        refused = schedule.load(source, target_service, catalogs, work, jobs, log, plan.cascaded, split, progress)
        progress.finished()
        more = refused_more(refused)
        failure = CopyError(f"{refused[0]}{more}; every other table is copied and verified") if refused else None
        try:
            if rebuild.put_back(target_service, jobs, log, lambda t: catalogs[0].state(t).rows) and expected:
                _recheck(dst, expected)
        except CopyError as exc:  # a table refused is the first cause: said first
            failure = CopyError(f"{refused[0]}{more}; then {exc}" if refused else str(exc))
            failure.__cause__ = exc
        journal.drop_if_empty(dst)
        loaded = set(plan.copy + plan.replace)
        with_rows = {t for t in order if wanted[t].rows}
        # past the rows of every table the source fills, not only this run's: a killed run loaded
        # some and never got here (its rerun copies nothing), as the plan says (tasks/data/plan.py);
        # and before a failure below is raised: the application writes into the rows copied meanwhile
        plan.sequences = sequences.advance(src, dst, loaded | (with_rows & present), catalogs[0].parent)
        if plan.sequences:
            log(f"sequences: {plan.sequences} moved forward (to the source's, or past the copied rows)")
        if failure:
            raise failure
        plan.views = _refresh_views(catalogs, dst, bool(work), log)
        # the planner's and the health check's row estimates: the loaded tables, every table above
        # them (partitioned parents; each parent of a multiple inheritance) and the refreshed views
        # and the tables with rows never analysed (a killed run copied them, then stopped before)
        # (or analysed by autovacuum since, which never analyses their partitioned parent)
        never = {row[0] for row in dst.execute(NEVER_ANALYSED_SQL).fetchall()}
        fresh = loaded | ((rebuilt | never) & with_rows)
        tops = sorted((_ancestors(dst, fresh) | (_ancestors(dst, with_rows) & never)) - fresh)
        plan.analyzed = loader.analyze(target_service, sorted(fresh) + tops + plan.views, jobs, log)
        problems = check.check(
            src, dst, lambda name: _pair(catalogs[0].state(name)), lambda name: _pair(catalogs[1].state(name))
        )
        if problems:
            raise CopyError(
                f"the target is incomplete after the copy: {problems[0]}"
                + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
                + ": this relation is not handled by the copy; report it, and move it by hand meanwhile"
            )
        return plan


def _ancestors(dst: psycopg.Connection, tables: set[str]) -> set[str]:
    """Every table above ``tables`` in a partition or inheritance tree."""
    return {row[0] for row in dst.execute(ANCESTORS_SQL, (sorted(tables),)).fetchall()} if tables else set()


def _recheck(dst: psycopg.Connection, expected: dict) -> None:
    """The target's indexes, constraints and triggers as the expected schema has them, once put back."""
    from tasks.schema import catalog

    found = [
        d for d in catalog.differences(expected, catalog.snapshot(dst)) if d.kind in ("index", "constraint", "trigger")
    ]
    if found:
        raise CopyError(
            f"after the copy put its indexes and keys back the target's schema differs from the expected one "
            f"({found[0].text.strip()}): the rows are in and verified; report it, and fix the schema by hand meanwhile"
        )


def _pair(state: TableState) -> tuple[int, str]:
    return state.rows, state.checksum or ""


def refused_more(refused: list[CopyError]) -> str:
    """Pure: after the first table's line, the others refused or left waiting, named (a table's line
    starts ``table NAME:``)."""
    if len(refused) < 2:
        return ""
    names = [str(e).split(":", 1)[0].removeprefix("table ") for e in refused[1:]]
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f" (and {len(names)} more table(s) refused or waiting for it: {shown})"
