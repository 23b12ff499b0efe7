"""
Promotion allowed: before the target backup, the catalog the pending migrations start from is read
(the plan record's "before"), and with ``PROMOTE_FROM`` the run goes on only when the source
environment's plan records show these files applied and verified there, from this same catalog.
"""

from __future__ import annotations

from pathlib import Path

from tasks.facts import CatalogSnapshot, Unreadable, read
from tasks.operations.common import converged, operation, planning, refuse
from tasks.plan import Planner
from tasks.plan.records import before_changes
from tasks.plans import promotion, record
from tasks.schema import catalog


@operation()
def allowed(plan: Planner, environment: str | None, plans_dir: str, promote_from: str | None = None):
    """
    Ensure pending migrations may be applied here: with ``promote_from``, only as they were on it.

    + plan: the run's plan (:class:`tasks.plan.Planner`): the pending migrations, the target's service
    + environment: this target's environment (None without environments)
    + plans_dir: where the plan records are
    + promote_from: the environment whose verified plan record must show these files, from this catalog

    Never changes anything; a refusal stops the run before the backup, with the difference.

    **Example:**

    .. code:: python

        promotion.allowed(
            name="Promotion allowed", plan=Planner.of(run),
            environment="production", plans_dir="plans", promote_from="staging",
        )
    """
    part = plan.migrations_part()
    if part.history is None or part.problems or not (part.pending or part.baseline):
        converged("no migration pending")
        return
    try:
        before = read(CatalogSnapshot, plan.target)
    except Unreadable as exc:
        yield from refuse(f"cannot read the target's catalog: {exc.error}")
        return
    if not planning():
        before_changes[environment] = (before, [m.filename for m in part.pending])
    if promote_from is None:
        converged("no PROMOTE_FROM: applied as this environment's own")
        return
    records = record.read_records(Path(plans_dir), promote_from)
    verdict = promotion.decide(promote_from, records, record.files(plan.migrations), before, catalog.diff)
    if not verdict.allowed:
        yield from refuse(verdict.line + "".join(f"\n  {line}" for line in verdict.diff))
        return
    converged(verdict.line)
