"""
Validation reported: the runbook's post-migration checklist, printed in one line and kept as JSON.
"""

from __future__ import annotations

from pathlib import Path

from pyinfra import host

from tasks.core import reports
from tasks.facts import CatalogSnapshot, RowCounts, Unreadable, read
from tasks.migrations import expected
from tasks.operations.common import (
    converged,
    operation,  # pyinfra's, guarded: any error ends as one line
    planning,
    will_check,
)
from tasks.plan import Planner
from tasks.schema import catalog, report
from tasks.schema import picture as schema_picture


@operation()
def validation_reported(plan: Planner, report_dir: str, report_keep: int = reports.DEFAULT_KEEP):
    """
    Report the target's tables, foreign keys, indexes, triggers and row counts (read-only).

    + plan: the run's plan (:class:`tasks.plan.Planner`): the target service, the files whose proof
      holds the expected schema (cached in its ``state_dir``)
    + report_dir: where ``latest-validation.json``, ``history/validation-<time>-<pid>-<random>.json``
      and ``schema.svg`` are written (0600 files)
    + report_keep: how many ``history/validation-<time>-<pid>-<random>.json`` are kept (the newest)

    Never counts as a change: it only reads the target and writes a local report.

    **Example:**

    .. code:: python

        report.validation_reported(
            name="Validation reported",
            plan=Planner.of(run),
            report_dir="reports",
        )
    """
    if planning():
        will_check("will report at the end of the run (read-only)")
        return
    service = plan.target
    try:
        snapshot = read(CatalogSnapshot, service)
        counts = read(RowCounts, service)
    except Unreadable as exc:
        host.log(f"validation report skipped: {exc.error}")
        return
    wanted = expected.load_expected(Path(plan.state_dir), plan.migrations) or {}
    differences = [d.as_dict() for d in catalog.differences(wanted, snapshot)] if wanted else []
    document = report.validation_report(snapshot, counts, differences)
    path, tightened = report.write_report(Path(report_dir), "validation", document, report_keep)
    if tightened:
        host.log(reports.tightened_note(Path(report_dir), tightened))
    host.log(schema_picture.draw(snapshot, Path(report_dir)))
    converged(f"validation report written to {path}")
    host.log(f"validation: {report.compact(document)} → {path}")
    return
    yield  # an operation is a generator
