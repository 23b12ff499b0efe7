"""The plan's risk lines, one per pending statement and table it touches. Pure."""

from __future__ import annotations

import bisect
from collections import Counter

from tasks.risk.classify import ACCEPT, Risk, parsed
from tasks.risk.gate import high, size_of
from tasks.risk.lint import Finding
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


def made_here_line(risks: list[Risk]) -> str:
    """One file's statements on tables the target does not have, in one line (a fresh target's hundreds
    of statements are not hundreds of lines): ``006_new.sql:2 3 statement(s) on audit, log (not in the
    target: made in this run, no risk)``."""
    tables = list(dict.fromkeys(risk.table for risk in risks))
    names = ", ".join(tables[:3]) + (f" and {len(tables) - 3} more" if len(tables) > 3 else "")
    count = len({risk.line for risk in risks})
    head = f"{risks[0].file}:{risks[0].line} {count} statement(s) on {names}"
    return f"{head} (not in the target: made in this run, no risk)"


def risk_lines(risks: list[Risk], sizes: dict[str, TableSize], table_mb: float) -> list[tuple[Risk, str, bool]]:
    """(risk, line, high) per statement and table the target has, then one line per file for those it
    does not have (the first such risk stands for them)."""
    found: list[tuple[Risk, str, bool]] = []
    absent: dict[str, list[Risk]] = {}
    for risk in risks:
        size = size_of(risk, sizes)
        if size is None:
            absent.setdefault(risk.file, []).append(risk)
        else:
            found.append((risk, risk_line(risk, size, table_mb), high(risk, size, table_mb)))
    found += [(group[0], made_here_line(group), False) for group in absent.values()]
    order = {file: n for n, file in enumerate(dict.fromkeys(risk.file for risk in risks))}
    return sorted(found, key=lambda item: (order[item[0].file], item[0].line))


def on_the_target(
    linted: list[Finding], risks: list[Risk], sizes: dict[str, TableSize], pending: list
) -> tuple[list[Finding], list[Finding]]:
    """(shown, folded): squawk's findings on a statement that touches a table the target has, and the
    others: on what the run itself makes (a new table, type or function) or a statement that changes no
    table (``CREATE TABLE IF NOT EXISTS`` of one the target has), where a lock or a rewrite costs nothing
    and the finding is noise."""
    existing = {(risk.file, risk.line) for risk in risks if size_of(risk, sizes) is not None}
    starts = {m.filename: [s.line for s in parsed(m)] for m in pending}
    shown: list[Finding] = []
    folded: list[Finding] = []
    for finding in linted:
        lines = starts.get(finding.file) or [finding.line]
        start = lines[max(bisect.bisect_right(lines, finding.line) - 1, 0)]  # the statement it falls in
        (shown if (finding.file, start) in existing else folded).append(finding)
    return shown, folded


def folded_line(folded: list[Finding]) -> str:
    """``squawk: 1,310 finding(s) on statements that touch no table the target has: not shown one by one,
    …(prefer-text-field ×300, …)``."""
    rules = Counter(f.rule for f in folded).most_common()
    named = ", ".join(f"{rule} ×{n}" for rule, n in rules[:5]) + (
        f" and {len(rules) - 5} more rule(s)" if len(rules) > 5 else ""
    )
    return (
        f"squawk: {len(folded):,} finding(s) on statements that touch no table the target has: "
        f"not shown one by one, each kept in the run's JSON report ({named})"
    )
