"""
Migration risk measured on the target before the backup (docs/risk.md): squawk's findings, each
pending statement's lock, rewrite and table (size, rows, writes, lock holders), the rows that will
make a statement fail, and the gate. Read-only; a refusal stops the run before any backup or change.
"""

from __future__ import annotations

from pathlib import Path

from tasks.core import summary
from tasks.facts import ServerInfo, Unreadable, read
from tasks.migrations.files import Migration
from tasks.operations.common import converged, operation, refuse, show_plan
from tasks.plan import Planner
from tasks.risk import assess, datacheck, gate, lint, render
from tasks.risk.facts import FailingRows, TableSizes
from tasks.risk.size import sizes_sql


def data_failures(service: str, pending: list[Migration], risks: list, sizes: dict) -> tuple[list[str], list[str]]:
    """(refusals, notes): the rows each checkable statement would fail on."""
    failures, notes = [], []
    for risk in assess.checkable(pending, risks):
        table, check = sizes.get(risk.table), risk.check
        if table is None or table.empty or check is None:
            continue  # made in this run, or empty: nothing can fail
        parent = sizes.get(check.references) if check.kind == "foreign key" else None
        query = datacheck.check_sql(check, table, parent)
        if query is None:
            continue
        try:
            count, example = read(FailingRows, service, query)
        except Unreadable as exc:
            notes.append(f"{risk.file}:{risk.line} data not checked ({exc.error})")
            continue
        if count:
            failures.append(datacheck.Failure(risk, count, example).message)
    return failures, notes


@operation()
def measured(plan: Planner, table_mb: float = 100.0, fail_on: str = "high"):
    """
    Measure the pending migrations' risk on the target, and stop on a high one or on data that will fail.

    + plan: the run's plan (:class:`tasks.plan.Planner`): the pending files, the target service, the
      state folder (where the proof keeps what it observed: locks and rewrites per statement)
    + table_mb: RISK_TABLE_MB, the size above which a rewrite, index build or validation is a high risk
    + fail_on: RISK_FAIL_ON, ``high`` (stop) or ``never`` (only report)

    Read-only. Prints one line per pending statement that locks an existing table, and squawk's findings.

    **Example:**

    .. code:: python

        risk.measured(name="Migration risk measured", plan=Planner.of(run))
    """
    service, part = plan.target, plan.migrations_part()
    if not part.readable:
        converged("history not readable here: the migrations step reports it")
        return
    if part.problems or not part.pending:
        converged("no pending migration")
        return
    pending = list(part.pending)
    risks = assess.assess(pending, Path(plan.state_dir))
    names = [r.table for r in risks] + [r.check.references for r in risks if r.check and r.check.references]
    try:
        sizes = read(TableSizes, service, sizes_sql(names)) if names else {}
    except Unreadable as exc:
        yield from refuse(f"cannot read the sizes of the tables the migrations touch: {exc.error}")
        return
    lines = render.risk_lines(risks, sizes, table_mb)
    try:
        version = read(ServerInfo, service)["version"]
    except Unreadable:
        version = "17"
    findings, note = lint.lint(pending, version)
    lines += [finding.text for finding in findings] + ([note] if note else [])
    failures, notes = data_failures(service, pending, risks, sizes)
    lines += notes
    summary.current().risk = lines  # latest-run.json
    show_plan([f"risk: {line}" for line in lines])
    refusals = failures + gate.refusals(risks, sizes, table_mb, fail_on)
    if refusals:
        yield from refuse(refusals[0] + (f" (and {len(refusals) - 1} more)" if len(refusals) > 1 else ""))
        return
    high = sum(gate.high(r, sizes.get(r.table), table_mb) for r in risks)
    converged(
        f"{len(risks)} table lock(s) measured, {high} high risk(s)"
        f"{' accepted or reported only' if high else ''}, {len(findings)} squawk finding(s)"
    )
