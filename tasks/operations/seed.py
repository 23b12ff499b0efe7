"""
Seed present: every row of the seed files exists in the target, inserted when missing by key
(and, with ``SEED_MODE=upsert``, updated when it differs).
"""

from __future__ import annotations

from collections.abc import Callable

from tasks.operations.common import (
    converged,
    operation,  # pyinfra's, guarded: any error ends as one line
    planning,
    python_step,
    refuse,
    show_plan,
    will_check,
)
from tasks.plan import Planner, SeedTable

SAMPLE_NOTE = "first ten keys"


def _plan_lines(tables: tuple[SeedTable, ...], upsert: bool) -> list[str]:
    lines = []
    for count in tables:
        if count.missing or count.updates:
            what = f"insert {count.missing} missing row(s)"
            what += f", update {count.updates} differing row(s)" if upsert else ""
            lines.append(f"{what} of {count.filename} ({SAMPLE_NOTE}: {count.sample})")
    return lines


@operation()
def present(plan: Planner):
    """
    Ensure every seed row exists in the target (insert the rows missing by primary key).

    + plan: the run's plan (:class:`tasks.plan.Planner`): the seed files (with ``DATA_MIGRATION=copy``
      those whose tables have rows in the source are left to the copy, noted), the rows missing per
      file, ``SEED_MODE=upsert`` (rows whose other columns differ are updated too), and whether
      migrations are pending (a dry run then says the rows are checked again after them: a migration
      may delete some)

    Existing rows are left alone (unless upsert); nothing else is touched. All files load in
    one transaction, tables in foreign-key order; sequences behind explicit ids are advanced.
    The rows travel as ``COPY`` data through the driver: no line of a seed file is read as a command.
    The dry run lists, per file, the rows to insert or update (the first ten keys and a count).

    **Example:**

    .. code:: python

        seed.present(
            name="Seed present",
            plan=Planner.of(run),
        )
    """
    service, upsert, part = plan.target, plan.seed_upsert, plan.seed_part()
    if part.left_to_copy:
        show_plan(
            [
                (
                    f"seed files left to the copy (their tables have rows in the source): "
                    f"{', '.join(f.filename for f in part.left_to_copy)}"
                )
            ]
        )
    if part.problem:
        yield from refuse(part.problem.message)
        return
    files = list(part.files)
    if not files:
        converged("no seed files to apply")
        return
    from tasks.data import seed_load  # psycopg: the rows travel as COPY data, never in a script

    if part.absent:
        if not planning():
            absent = next(f for f in files if f.table in part.absent)
            yield from refuse(
                f"seed file {absent.filename}: table {absent.table} does not exist in the target: "
                "create it in a migration or remove the file; nothing was inserted"
            )
            return
        show_plan(
            [f"insert the {f.rows} row(s) of {f.filename}; its table is made by a pending migration" for f in files]
        )
    else:
        lines = _plan_lines(part.tables, upsert)
        if not lines:
            if planning() and plan.migrations_part().changes_schema:  # a pending migration may delete rows
                will_check(
                    f"will check after the pending migrations run (all rows of {len(files)} seed file(s) present now)"
                )
                return
            converged(f"all rows of {len(files)} seed file(s) present")
            return
        show_plan(lines)

    def insert(log: Callable[[str], None]) -> str:
        result = seed_load.load(f"service={service}", files, "insert", upsert)
        for name, count in result["tables"].items():
            if count.missing or count.updates:
                log(f"{name}: inserted {count.missing} row(s)" + (f", updated {count.updates}" if upsert else ""))
        inserted = sum(c.missing for c in result["tables"].values())
        updated = sum(c.updates for c in result["tables"].values())
        return f"inserted {inserted} seed row(s)" + (f", updated {updated}" if updated else "")

    yield python_step(insert, rows_only=True)
