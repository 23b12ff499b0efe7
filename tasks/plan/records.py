"""
The plan record of a run that applied migrations: the catalog the pending migrations started from is
kept when the promotion check reads it (before the target backup), and the record is written after the
schema check (:mod:`tasks.plans.record`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tasks.migrations.files import Migration
from tasks.plans import record

# environment -> (the catalog before the pending migrations, their file names), for the plan record
before_changes: dict[str | None, tuple[dict[str, Any], list[str]]] = {}


def record_run(environment: str | None, plans_dir: str, migrations: list[Migration], after: dict[str, Any],
               verified: bool, applied: bool, findings: list[dict[str, Any]] | None = None) -> str | None:
    """After the schema check of a run whose migrations step ``applied`` files: its plan record, written
    (its path), with the risk ``findings`` of the files it applied (:meth:`tasks.plan.Plan.findings`);
    None when nothing was applied or the catalog before was not read."""
    if not applied or environment not in before_changes:
        return None
    before, files = before_changes.pop(environment)
    one = record.build_record(environment, migrations, files, before, after, verified, findings)
    return str(record.write_record(Path(plans_dir), one))
