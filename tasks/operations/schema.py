"""
Schema verified: the target's catalog equals the expected schema proven on the shadow database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pyinfra import host

from tasks.facts import CatalogSnapshot, CopySetAside, Unreadable, read
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
from tasks.schema import catalog

MAX_DIFF_LINES = 40


def _render(title: str, found: list[catalog.Difference]) -> str:
    shown = [d.text for d in found[:MAX_DIFF_LINES]]
    more = f"\n  … and {len(found) - len(shown)} more" if len(found) > len(shown) else ""
    return f"{title} ({len(found)} difference(s), - missing, + extra, ~ changed):\n  " + "\n  ".join(shown) + more


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
    except Unreadable as exc:
        yield from refuse(f"cannot read the target's catalog: {exc.error}")
        return
    comparisons = [("the target schema differs from what the migrations describe", catalog.differences(wanted, actual))]
    try:
        aside = read(CopySetAside, service)  # an interrupted data copy's: the copy puts them back
    except Unreadable:
        aside = frozenset()
    if against_source:
        try:
            source = read(CatalogSnapshot, plan.source)
        except Unreadable as exc:
            yield from refuse(f"cannot read the source's catalog: {exc.error}")
            return
        comparisons.append(("the target schema differs from the source database", catalog.differences(source, actual)))
    explained = {d for _, found in comparisons for d in catalog.set_aside(found, aside)}
    if aside and not plan.copy:
        # only the copy puts them back: any other run would end with them missing
        yield from refuse(
            f"{len(aside)} index(es), key(s) or trigger(s) of the target are still set aside by an interrupted data "
            f"copy (schema pgconverge, e.g. {min(aside)}): run once with DATA_MIGRATION=copy to put them back"
        )
        return
    if explained:
        host.log(
            f"{len(explained)} index(es), key(s) or trigger(s) set aside by an interrupted data copy: "
            "the data copy of this run puts them back"
        )
        comparisons = [(title, [d for d in found if d not in explained]) for title, found in comparisons]

    failures = []
    for title, found in comparisons:
        tolerated = [d for d in found if allow_extra_objects and d.sign == "+"]
        blocking = [d for d in found if d not in tolerated]
        if tolerated:
            host.log(_render(f"{title}, allowed by ALLOW_EXTRA_OBJECTS", tolerated))
        if blocking:
            failures.append(_render(title, blocking))
    applied = changed_in_this_run(after)  # the migrations step (``after``) applied files in this run
    # the risk findings as the risk state measured them, before the migrations applied
    findings = plan.built().findings()
    recorded = (
        records.record_run(environment, plans_dir, plan.migrations, actual, not failures, applied, findings)
        if plans_dir
        else None
    )
    if recorded:
        host.log(f"plan record {recorded}")
    if failures:
        hint = (
            "" if allow_extra_objects else "\n  (objects added by hand: remove them, or set ALLOW_EXTRA_OBJECTS=true)"
        )
        if report_dir and not planning() and comparisons[0][1]:
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
            hint = "\n  " + line + hint  # and, for objects added by hand, ALLOW_EXTRA_OBJECTS
            failures[0] = f"drift: {drift.pointer(path, proven)}\n" + failures[0]
        yield from refuse("\n".join(failures) + hint)
        return
    if report_dir and not planning():
        drift.converged(Path(report_dir), environment)
    converged("target schema equals the expected schema")
