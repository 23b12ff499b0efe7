"""
Validation reported: the runbook's post-migration checklist, printed in one line and kept as JSON.
"""

from __future__ import annotations

from pathlib import Path

from pyinfra import host
from tasks.operations.common import operation  # pyinfra's, guarded: any error ends as one line

from tasks.core import reports
from tasks.schema import catalog
from tasks.migrations import expected
from tasks.schema import report
from tasks.schema import picture as schema_picture
from tasks.facts import CatalogSnapshot, FactError, RowCounts, read
from tasks.migrations.files import Migration
from tasks.operations.common import converged, planning


@operation()
def validation_reported(service: str, migrations: list[Migration], state_dir: str, report_dir: str,
                        report_keep: int = reports.DEFAULT_KEEP):
    """
    Report the target's tables, foreign keys, indexes, triggers and row counts (read-only).

    + service: the service name of the target database
    + migrations: the files whose proof holds the expected schema
    + state_dir: where the proof cached the expected schema
    + report_dir: where ``latest-validation.json``, ``history/validation-<time>-<pid>-<random>.json``
      and ``schema.svg`` are written (0600 files)
    + report_keep: how many ``history/validation-<time>-<pid>-<random>.json`` are kept (the newest)

    Never counts as a change: it only reads the target and writes a local report.

    **Example:**

    .. code:: python

        report.validation_reported(
            name="Validation reported",
            service="target",
            migrations=read_migrations(Path("files/migrations")),
            state_dir=".pgconverge",
            report_dir="reports",
        )
    """
    if planning():
        converged("reported at the end of the run")
        return
    snapshot = read(CatalogSnapshot, service)
    counts = read(RowCounts, service)
    if isinstance(snapshot, FactError) or isinstance(counts, FactError):
        failed = snapshot if isinstance(snapshot, FactError) else counts
        host.log(f"validation report skipped: {failed['error']}")
        return
    wanted = expected.load_expected(Path(state_dir), migrations) or {}
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
