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


def record_run(
    environment: str | None,
    plans_dir: str,
    migrations: list[Migration],
    after: dict[str, Any],
    verified: bool,
    applied: bool,
    findings: list[dict[str, Any]] | None = None,
) -> str | None:
    """After the schema check of a run whose migrations step ``applied`` files: its plan record, written
    (its path), with the risk ``findings`` of the files it applied (:meth:`tasks.plan.Plan.findings`);
    None when nothing was applied or the catalog before was not read."""
    if not applied and verified and environment is not None:
        return _verify_later(environment, Path(plans_dir), migrations, after)
    if not applied or environment not in before_changes:
        return None
    before, files = before_changes.pop(environment)
    one = record.build_record(environment, migrations, files, before, after, verified, findings)
    return str(record.write_record(Path(plans_dir), one))


def _verify_later(environment: str, plans_dir: Path, migrations: list[Migration], after: dict[str, Any]) -> str | None:
    """A run that applied nothing and verified the schema: when this environment's newest record has
    these files and was not verified (drift found after the migrations, repaired since), a verified
    record of that change is written, from the same catalog before, so promotion can go on."""
    found = record.read_records(plans_dir, environment) if plans_dir.is_dir() else []
    if not found or found[0].get("verified"):
        return None
    last = found[0]
    wanted = record.files(migrations)
    if [(f.get("version"), f.get("checksum")) for f in last.get("files") or []] != [
        (f["version"], f["checksum"]) for f in wanted
    ]:
        return None
    before = last.get("catalog_before_snapshot") or {}
    if record.fingerprint(before) != last.get("catalog_before"):
        return None  # the snapshot kept does not match its fingerprint: not a base to verify from
    one = record.build_record(environment, migrations, list(last.get("applied_now") or []), before, after, True)
    one["verifies"] = Path(str(last["path"])).name  # the unverified record this run's schema check verified
    return str(record.write_record(plans_dir, one))
