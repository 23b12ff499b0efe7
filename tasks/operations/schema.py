"""
Schema verified: the target's catalog equals the expected schema proven on the shadow database.
"""

from __future__ import annotations

from pathlib import Path

from pyinfra import host
from tasks.operations.common import operation  # pyinfra's, guarded: any error ends as one line

from tasks.schema import catalog
from tasks.migrations import expected
from tasks.facts import CatalogSnapshot, FactError, MigrationHistory, read
from tasks.migrations.files import Migration
from tasks.migrations.plan import plan_migrations
from tasks.operations import drift, promotion
from tasks.operations.common import converged, planning, refuse

MAX_DIFF_LINES = 40


def _pending(service: str, migrations: list[Migration]) -> bool:
    history = read(MigrationHistory, service)
    return isinstance(history, FactError) or bool(plan_migrations(migrations, history, None).pending)


def _render(title: str, found: list[catalog.Difference]) -> str:
    shown = [d.text for d in found[:MAX_DIFF_LINES]]
    more = f"\n  … and {len(found) - len(shown)} more" if len(found) > len(shown) else ""
    return f"{title} ({len(found)} difference(s), - missing, + extra, ~ changed):\n  " + "\n  ".join(shown) + more


@operation()
def verified(
    service: str,
    migrations: list[Migration],
    state_dir: str,
    allow_extra_objects: bool = False,
    source_service: str | None = None,
    environment: str | None = None,
    plans_dir: str | None = None,
    report_dir: str | None = None,
    proof_service: str | None = None,
):
    """
    Ensure the target's schema equals the expected schema (the shadow database's catalog).

    + service: the service name of the target database
    + migrations: the files whose proof holds the expected schema
    + state_dir: where the proof cached the expected schema
    + allow_extra_objects: report objects added by hand (``+`` lines) without failing
    + source_service: also compare with this database (the source: "schema matches the app")
    + environment: this target's environment, named in the plan record
    + plans_dir: where a run that applied migrations writes its plan record (None: none written)
    + report_dir: where a drift's proposed repair is written (``drift-repair.sql``; None: none)
    + proof_service: the server the repair is proven on (a shadow copy; the source)

    Tables, columns, types, defaults, constraints, indexes, triggers, functions, views,
    sequences, types and extensions are compared; a difference fails the run with a diff.
    When no migration is pending, the dry run shows the drift at plan time. Never changes anything.

    **Example:**

    .. code:: python

        schema.verified(
            name="Schema verified",
            service="target",
            migrations=read_migrations(Path("files/migrations")),
            state_dir=".pgconverge",
        )
    """
    wanted = expected.load_expected(Path(state_dir), migrations)
    if wanted is None:
        if planning():
            converged("expected schema not proven yet: verified after the proof")
            return
        yield from refuse("no expected schema: the migrations were not proven (run the whole deploy)")
        return
    if planning() and _pending(service, migrations):
        converged("verified after the pending migrations run")
        return
    actual = read(CatalogSnapshot, service)
    if isinstance(actual, FactError):
        yield from refuse(f"cannot read the target's catalog: {actual['error']}")
        return
    comparisons = [("the target schema differs from what the migrations describe", catalog.differences(wanted, actual))]
    if source_service:
        source = read(CatalogSnapshot, source_service)
        if isinstance(source, FactError):
            yield from refuse(f"cannot read the source's catalog: {source['error']}")
            return
        comparisons.append(("the target schema differs from the source database", catalog.differences(source, actual)))

    failures = []
    for title, found in comparisons:
        tolerated = [d for d in found if allow_extra_objects and d.sign == "+"]
        blocking = [d for d in found if d not in tolerated]
        if tolerated:
            host.log(_render(f"{title}, allowed by ALLOW_EXTRA_OBJECTS", tolerated))
        if blocking:
            failures.append(_render(title, blocking))
    recorded = promotion.record_run(environment, plans_dir, migrations, actual, not failures) if plans_dir else None
    if recorded:
        host.log(f"plan record {recorded}")
    if failures:
        hint = "" if allow_extra_objects else "\n  (objects added by hand: remove them, or set ALLOW_EXTRA_OBJECTS=true)"
        if report_dir and not planning() and comparisons[0][1]:
            hint = "\n  " + drift.answer(service, proof_service, migrations, wanted, actual, Path(report_dir))
            failures[0] = f"drift: {drift.pointer(Path(report_dir))}\n" + failures[0]
        yield from refuse("\n".join(failures) + hint)
        return
    converged("target schema equals the expected schema")
