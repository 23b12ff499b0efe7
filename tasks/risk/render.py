"""The plan's risk lines, one per pending statement and table it touches. Pure."""

from __future__ import annotations

from tasks.risk.classify import ACCEPT, Risk
from tasks.risk.gate import high, size_of
from tasks.risk.size import TableSize, human_bytes, human_rows


def risk_line(risk: Risk, size: TableSize | None, table_mb: float) -> str:
    """``004_retype.sql:3 ACCESS EXCLUSIVE + rewrite of public.messages (2.1 GB, 14 M rows, ~300 writes/s)``."""
    action = (
        " + rewrite"
        if risk.rewrite
        else " + index build"
        if risk.index_build
        else f" + {risk.validation} validation"
        if risk.validation
        else ""
    )
    head = f"{risk.file}:{risk.line} {risk.lock}{action} of {size.regclass if size else risk.table}"
    source = f"; from the parse tree ({risk.unobserved})" if risk.unobserved else ""
    if size is None:
        return f"{head} (not in the target: made in this run, no risk){source}"
    facts = [
        human_bytes(size.bytes),
        "empty" if size.empty else "~0 rows (statistics stale)" if size.rows == 0 else human_rows(size.rows),
        f"~{size.writes_per_s:.0f} writes/s",
    ]
    if size.lockers:
        facts.append(f"{size.lockers} session(s) hold a lock on it now")
    line = f"{head} ({', '.join(facts)}), rewrite {'yes' if risk.rewrite else 'no'}"
    if high(risk, size, table_mb):
        line += f"; HIGH RISK{' (accepted: ' + ACCEPT + ')' if risk.accepted else ''}"
    return line + source


def risk_lines(risks: list[Risk], sizes: dict[str, TableSize], table_mb: float) -> list[str]:
    return [risk_line(risk, size_of(risk, sizes), table_mb) for risk in risks]
