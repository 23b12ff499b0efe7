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


def pointer(report_dir: Path) -> str:
    """The failure's first line: where the proposed repair is."""
    return (f"the target has drifted from the expected schema: review {report_dir / FILE} (the proposed repair, "
            "never applied by pgconverge), apply it by hand (psql -f), then run again")


def answer(service: str, proof_service: str | None, migrations: list[Migration], expected: dict[str, Any],
           actual: dict[str, Any], report_dir: Path) -> str:
    """Write the repair file; one line saying what it holds and whether it was proven."""
    try:
        rows: dict[str, int] | None = read(RowCounts, service)
    except Unreadable:
        rows = None  # an extra table of unknown size is listed, never dropped
    wanted, have = normalize_pair(expected, actual)
    found = repair.plan_repair(wanted, have, rows)
    why = None
    if found.statements and proof_service:
        why = repair_proof.prove(proof_service, migrations, wanted, have, found)
    proof = ("proven on a shadow copy of the drifted schema (source server)" if why is None and proof_service
             else f"NOT proven: {why}" if why else "not proven (no proof server)")
    header = (f"pgconverge: the repair of the drift of {service}'s schema; never applied by pgconverge.\n"
              f"{proof}.\n{len(found.statements)} statement(s); {len(found.unrepairable)} object(s) left out.")
    if not found.statements:
        header += "\nNothing here can be repaired by DDL without losing data."
    report_dir.mkdir(parents=True, exist_ok=True)
    path = report_dir / FILE
    partial = path.with_name(FILE + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # describes the schema: private, like reports
    with os.fdopen(fd, "w") as handle:
        handle.write(found.sql(header))
    os.replace(partial, path)
    left = f"; left out (would lose data): {'; '.join(found.unrepairable)}" if found.unrepairable else ""
    return f"{path}: {len(found.statements)} statement(s), {proof}{left}"
