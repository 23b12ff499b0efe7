"""
Drift, answered: when the schema check finds the target drifted from the expected schema, the DDL
that brings it back (:mod:`tasks.schema.repair`), proven on a shadow copy on the source server
(:mod:`tasks.schema.repair_proof`), is written to ``REPORT_DIR/drift-repair.sql``. Never applied here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tasks.facts import RowCounts, Unreadable, read
from tasks.migrations.files import Migration
from tasks.schema import repair, repair_proof
from tasks.schema.versions import normalize_pair

FILE = "drift-repair.sql"


def file_name(environment: str | None) -> str:
    """``drift-repair.sql``, or ``drift-repair-<environment>.sql``: environments sharing one REPORT_DIR
    do not overwrite each other's repair."""
    return f"drift-repair-{environment}.sql" if environment else FILE


def pointer(path: Path, proven: bool = True) -> str:
    """The failure's first line: where the proposed repair is, and whether to apply it."""
    if not proven:
        return (
            f"the target has drifted from the expected schema: {path} holds a repair that was NOT proven: "
            "do not apply it as it is; fix the drift by hand (the file lists what differs), then run again"
        )
    return (
        f"the target has drifted from the expected schema: review {path} (the proposed repair, "
        "never applied by pgconverge), apply it by hand (psql -f), then run again"
    )


def converged(report_dir: Path, environment: str | None) -> None:
    """The target converges: a repair written by an earlier run is stale, and is removed."""
    (report_dir / file_name(environment)).unlink(missing_ok=True)


def answer(
    service: str,
    proof_service: str | None,
    migrations: list[Migration],
    expected: dict[str, Any],
    actual: dict[str, Any],
    report_dir: Path,
    environment: str | None = None,
    keep_extras: bool = False,
) -> tuple[Path, bool, str]:
    """Write the repair file: its path, whether it was proven, one line saying what it holds.
    ``keep_extras``: objects only the target has are tolerated (ALLOW_EXTRA_OBJECTS), never dropped."""
    try:
        rows: dict[str, int] | None = read(RowCounts, service)
    except Unreadable:
        rows = None  # an extra table of unknown size is listed, never dropped
    wanted, have = normalize_pair(expected, actual)
    if keep_extras:
        have = repair.without_extras(wanted, have)
    found = repair.plan_repair(wanted, have, rows)
    why = None
    if found.statements and proof_service:
        why = repair_proof.prove(proof_service, migrations, wanted, have, found)
    proven = why is None and bool(proof_service) or not found.statements
    proof = (
        "proven on a shadow copy of the drifted schema (source server)"
        if why is None and proof_service
        else f"NOT proven, do not apply it as it is: {why}"
        if why
        else "NOT proven (no proof server), do not apply it as it is"
    )
    header = (
        f"pgconverge: the repair of the drift of {service}'s schema; never applied by pgconverge.\n"
        f"{proof}.\n{len(found.statements)} statement(s); {len(found.unrepairable)} object(s) left out."
    )
    if not found.statements:
        header += "\nNothing here can be repaired by DDL without losing data."
    report_dir.mkdir(parents=True, exist_ok=True)
    path = report_dir / file_name(environment)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # describes the schema: private, like reports
    with os.fdopen(fd, "w") as handle:
        handle.write(found.sql(header))
    os.replace(partial, path)
    left = f"; left out (would lose data): {'; '.join(found.unrepairable)}" if found.unrepairable else ""
    return path, proven, repair.escaped(f"{path}: {len(found.statements)} statement(s), {proof}{left}")
