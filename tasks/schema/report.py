"""
The validation report: the runbook's post-migration checklist (tables, foreign keys, indexes,
triggers, row counts) built from a catalog snapshot, printed as one compact line and written as
JSON (``latest-validation.json`` plus a bounded history, :mod:`tasks.core.reports`) under
``REPORT_DIR``. No secret goes in.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from tasks.core import reports

FOREIGN_KEY = re.compile(r"FOREIGN KEY \((?P<columns>[^)]*)\) REFERENCES (?P<table>[^\s(]+)")


def validation_report(snapshot: dict[str, Any], row_counts: dict[str, int], differences: list[dict]) -> dict[str, Any]:
    tables = snapshot.get("tables") or {}
    foreign_keys = []
    triggers: list[Any] = []
    for table, value in sorted(tables.items()):
        for name, constraint in sorted((value.get("constraints") or {}).items()):
            match = FOREIGN_KEY.match(constraint.get("definition", ""))
            if constraint.get("type") == "foreign key" and match:
                foreign_keys.append(
                    {
                        "table": table,
                        "constraint": name,
                        "columns": match.group("columns"),
                        "references": match.group("table"),
                    }
                )
        triggers.extend({"table": table, "trigger": name} for name in sorted(value.get("triggers") or {}))
    indexes = [
        {"index": name, "table": value.get("table"), "valid": value.get("valid")}
        for name, value in sorted((snapshot.get("indexes") or {}).items())
    ]
    return {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "schema_matches": not differences,
        "differences": differences,
        "tables": [{"table": t, "rows": row_counts.get(t)} for t in sorted(tables)],
        "foreign_keys": foreign_keys,
        "indexes": indexes,
        "triggers": triggers,
    }


def compact(report: dict[str, Any]) -> str:
    """One line: ``4 tables (messages 2,000 rows, ...), 5 foreign keys, 9 indexes, 3 triggers``."""
    tables = ", ".join(
        f"{t['table'].removeprefix('public.')} {t['rows']:,} row{'' if t['rows'] == 1 else 's'}"
        if t["rows"] is not None
        else t["table"]
        for t in report["tables"]
    )
    invalid = sum(1 for i in report["indexes"] if not i["valid"])
    return (
        f"{len(report['tables'])} tables ({tables}), {len(report['foreign_keys'])} foreign keys, "
        f"{len(report['indexes'])} indexes{f' ({invalid} INVALID)' if invalid else ''}, "
        f"{len(report['triggers'])} triggers"
    )


def write_report(folder: Path, kind: str, report: dict[str, Any], keep: int = reports.DEFAULT_KEEP) -> tuple[Path, int]:
    """``latest-<kind>.json`` and ``history/<kind>-<UTC time>-<pid>-<random>.json``
    (private, history pruned to ``keep``):
    :func:`tasks.core.reports.write_report`."""
    return reports.write_report(folder, kind, json.dumps(report, indent=1, sort_keys=True), keep)
