"""
Schema verified: the target's catalog equals the expected schema proven on the shadow database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pyinfra import host

from tasks.facts import CatalogSnapshot, Unreadable, read
from tasks.migrations import expected
from tasks.operations.common import (
    changed_in_this_run,
    converged,
    operation,  # pyinfra's, guarded: any error ends as one line
    planning,
    refuse,
    will_check,
)
from tasks.plan import Planner, drift, records
from tasks.schema import verdict


@operation()
def verified(
    plan: Planner,
    allow_extra_objects: bool = False,
    against_source: bool = False,
    environment: str | None = None,
    plans_dir: str | None = None,
    report_dir: str | None = None,
    after: Sequence[Callable[..., Any]] = (),
):
    """
    Ensure the target's schema equals the expected schema (the shadow database's catalog).

    + plan: the run's plan (:class:`tasks.plan.Planner`): the files whose proof holds the expected
      schema (cached in its ``state_dir``), whether migrations are pending, the services
    + allow_extra_objects: report objects added by hand (``+`` lines) without failing
    + against_source: also compare with the source database ("schema matches the app")
    + environment: this target's environment, named in the plan record
    + plans_dir: where a run that applied migrations writes its plan record (None: none written)
    + report_dir: where a drift's proposed repair is written (``drift-repair.sql``, proven on a shadow
      copy on the source server; None: none)

    Tables, columns, types, defaults, constraints, indexes, triggers, functions, views,
    sequences, types and extensions are compared; a difference fails the run with a diff.
    When no migration is pending, the dry run shows the drift at plan time; otherwise its row says
    it will check after them. Never changes anything.

    **Example:**

    .. code:: python

        schema.verified(
            name="Schema verified",
            plan=Planner.of(run),
        )
    """
    service = plan.target
    wanted = expected.load_expected(Path(plan.state_dir), plan.migrations)
    if wanted is None:
        if planning():
            will_check("will check after the proof (the expected schema is not proven yet)")
            return
        yield from refuse("no expected schema: the migrations were not proven (run the whole deploy)")
        return
    if planning():
        part = plan.migrations_part()
        if not part.readable or part.pending:
            will_check("will check after the pending migrations run")
            return
    try:
        actual = read(CatalogSnapshot, service)
        source = read(CatalogSnapshot, plan.source) if against_source else None
    except Unreadable as exc:
        which = "source" if against_source and exc.service == plan.source else "target"
        yield from refuse(f"cannot read the {which}'s catalog: {exc.error}")
        return
    held = plan.held_by_copy()  # only the copy puts them back: any other run would end with them missing
    if held:
        yield from refuse(held.message)
        return
    aside = plan.set_aside()  # an interrupted data copy's: this run's copy puts them back
    found = verdict.judge(wanted, actual, source, allow_extra_objects, aside)
    if found.explained:
        host.log(
            f"{found.explained} index(es), key(s) or trigger(s) set aside by an interrupted data copy: "
            "the data copy of this run puts them back"
        )
    for line in found.tolerated:
        host.log(line)
    applied = changed_in_this_run(after)  # the migrations step (``after``) applied files in this run
    # the risk findings as the risk state measured them, before the migrations applied
    findings = plan.built().findings()
    recorded = (
        records.record_run(environment, plans_dir, plan.migrations, actual, not found.failures, applied, findings)
        if plans_dir
        else None
    )
    if recorded:
        host.log(f"plan record {recorded}")
    if found.failures:
        if report_dir and not planning() and found.drifted:
            path, proven, line = drift.answer(
                service,
                plan.source,
                plan.migrations,
                wanted,
                actual,
                Path(report_dir),
                environment,
                allow_extra_objects,
            )
            yield from refuse(found.message(drift.pointer(path, proven), line))
        else:
            yield from refuse(found.message())
        return
    if report_dir and not planning():
        drift.converged(Path(report_dir), environment)
    converged("target schema equals the expected schema")
