"""
Migration risk measured on the target before the backup (docs/risk.md): squawk's findings, each
pending statement's lock, rewrite and table (size, rows, writes, lock holders), the rows that will
make a statement fail, and the gate, as the plan's risk part says (:class:`tasks.plan.RiskPart`).
Read-only; a refusal stops the run before any backup or change.
"""

from __future__ import annotations

from pyinfra import host

from tasks.operations.common import converged, operation, planning, refuse, show_plan
from tasks.plan import Planner

SHOWN: set[int] = set()  # the plans whose risk lines the planning pass printed (not again when it runs)


@operation()
def measured(plan: Planner):
    """
    Measure the pending migrations' risk on the target, and stop on a high one or on data that will fail.

    + plan: the run's plan (:class:`tasks.plan.Planner`): its risk part, built from the pending files,
      what the proof observed (locks and rewrites per statement, in the state folder), the target's
      tables, ``RISK_TABLE_MB`` (the size above which a rewrite, index build or validation is a high
      risk) and ``RISK_FAIL_ON`` (``high``: stop; ``never``: only report)

    Read-only. Prints one line per pending statement that locks an existing table, and squawk's findings.

    **Example:**

    .. code:: python

        risk.measured(name="Migration risk measured", plan=Planner.of(run))
    """
    part = plan.risk_part()
    if not part.pending:
        converged(part.skipped or "no pending migration")
        return
    lines = [f"risk: {line}" for line in part.lines()]
    if planning():
        show_plan(lines)
        SHOWN.add(id(plan))
    elif id(plan) not in SHOWN:  # with -y there is no planning pass: the lines are printed as it runs
        for line in lines:
            host.log(line)
    if part.refusal:
        plan.target_part()  # the target part holds the refusal too (the run's report records it)
        yield from refuse(part.refusal.message)
        return
    high, lints = part.high, sum(f.kind == "lint" for f in part.findings)
    locks = sum(f.kind == "lock" for f in part.findings)
    converged(
        f"{locks} table lock(s) measured, {high} high risk(s)"
        f"{' accepted or reported only' if high else ''}, {lints} squawk finding(s)"
    )
