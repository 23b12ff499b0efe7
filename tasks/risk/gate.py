"""
The gate, a pure decision: a rewrite, an index build without CONCURRENTLY or a validation of every
row (NOT NULL, CHECK, FOREIGN KEY without NOT VALID) on a target table larger than RISK_TABLE_MB
stops the run before the target backup, unless its file accepts the risk
(``-- pgconverge: accept-risk``) or RISK_FAIL_ON=never. A table the target does not have (made in
this run) or a small one is no high risk, whatever the statement.
"""

from __future__ import annotations

from dataclasses import dataclass

from tasks.risk.classify import ACCEPT, PARTITION, Risk
from tasks.risk.size import TableSize, human_bytes

FAIL_ON = ("high", "never")


@dataclass(frozen=True)
class Observed:
    """What the proof saw one statement do to one table that existed before its file."""

    lock: str
    rewrite: bool


def with_observed(risk: Risk, observed: Observed | None) -> Risk:
    """The risk with the lock and rewrite the proof observed (PostgreSQL's, not a table's guess)."""
    if observed is None:
        return risk
    return Risk(
        risk.file,
        risk.line,
        risk.table,
        observed.lock or risk.lock,
        observed.rewrite,
        risk.index_build,
        risk.validation,
        risk.check,
        risk.accepted,
    )


def size_of(risk: Risk, sizes: dict[str, TableSize]) -> TableSize | None:
    """The target's table the statement meets: None when the run made it (dropped or created it
    before the statement) or the target lacks it."""
    return None if risk.remade else sizes.get(risk.table)


def high(risk: Risk, size: TableSize | None, table_mb: float) -> bool:
    """A heavy statement on an existing table that holds rows and is larger than ``table_mb`` (an index built
    ON ONLY a partitioned parent reads no row)."""
    if size is None or size.empty or size.megabytes <= table_mb or (risk.only and size.partitioned):
        return False
    return risk.heavy


def what(risk: Risk) -> str:
    if risk.rewrite:
        return "rewrites"
    if risk.index_build:
        return "builds an index without CONCURRENTLY on"
    return f"validates {risk.validation} over every row of"


def how_to_go_on(risk: Risk) -> str:
    if risk.reindex:
        safe = "use REINDEX (CONCURRENTLY) in a file whose first line is -- pgconverge:no-transaction"
    elif risk.index_build:
        safe = "use CREATE INDEX CONCURRENTLY IF NOT EXISTS in a file whose first line is -- pgconverge:no-transaction"
    elif risk.validation == PARTITION:
        safe = (
            "first add a CHECK matching the partition bound NOT VALID and VALIDATE it in a later file, then ATTACH "
            "(PostgreSQL then skips the scan)"
        )
    elif risk.validation:
        safe = "add the constraint NOT VALID, then VALIDATE CONSTRAINT in a later file"
        if risk.validation == "NOT NULL":
            safe = "add a CHECK (col IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL in a later file"
    else:
        safe = "make the change without a rewrite (e.g. a new column, backfilled in batches)"
    return f"{safe}; or accept it with a line '{ACCEPT}' in the file"


def article(word: str) -> str:
    return "an" if word[:1] in "AEIOU" else "a"


def refusals(risks: list[Risk], sizes: dict[str, TableSize], table_mb: float, fail_on: str) -> list[str]:
    """One message per high risk not accepted (none with RISK_FAIL_ON=never)."""
    if fail_on == "never":
        return []
    found = []
    for risk in risks:
        size = size_of(risk, sizes)
        if high(risk, size, table_mb) and not risk.accepted and size is not None:
            found.append(
                f"migration {risk.file} line {risk.line} {what(risk)} {size.regclass} "
                f"({human_bytes(size.bytes)}, over RISK_TABLE_MB={table_mb:g}) "
                f"under {article(risk.lock)} {risk.lock} lock: "
                f"{how_to_go_on(risk)}; nothing was backed up or changed"
            )
    return found
