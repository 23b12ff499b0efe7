"""
Promotion: an environment with ``PROMOTE_FROM=staging`` applies pending migrations only when a plan
record of staging shows the same files (same checksums, same order) applied and verified there, and
this target's catalog before equals that record's catalog before. Pure: records and catalogs in,
one verdict out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tasks.plans.record import fingerprint, normalized

MAX_LINES = 20


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    line: str  # one line: which condition failed (or the record that allowed it)
    diff: tuple[str, ...] = ()
    record: str | None = None


def file_diff(wanted: list[dict[str, Any]], recorded: list[dict[str, Any]]) -> list[str]:
    """What differs between this run's files and a record's, in order: ``-`` only here, ``+`` only there, ``~``."""
    lines = []
    theirs = {f["file"]: f for f in recorded}
    ours = {f["file"]: f for f in wanted}
    for one in wanted:
        other = theirs.get(one["file"])
        if other is None:
            lines.append(f"- {one['file']} (not applied on the source environment)")
        elif other["checksum"] != one["checksum"]:
            lines.append(f"~ {one['file']} (checksum {one['checksum'][:12]} here, {other['checksum'][:12]} there)")
    lines.extend(f"+ {f['file']} (applied there, not a file here)" for f in recorded if f["file"] not in ours)
    if not lines and [f["file"] for f in wanted] != [f["file"] for f in recorded]:
        lines.append("~ the same files in another order")
    return lines


def identity(files: list[dict[str, Any]]) -> list[tuple[Any, Any]]:
    """A file list as what a migration is: its version and checksum, in order (a renamed file is the same)."""
    return [(f.get("version"), f.get("checksum")) for f in files]


def same(recorded: list[dict[str, Any]], wanted: list[dict[str, Any]]) -> bool:
    return identity(recorded) == identity(wanted)


def chain(verified: list[dict[str, Any]], start: str, wanted: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """Verified records whose catalogs link (one's after is the next's before), from ``start`` to a record
    with the files ``wanted``, each holding a beginning of them (staging went 001-004, then 005, in two
    runs); None when no such chain exists. One record with the same files and catalog before is a chain."""
    goal = identity(wanted)
    frontier: list[tuple[str, list[dict[str, Any]]]] = [(start, [])]
    seen = {start}
    while frontier:
        here, path = frontier.pop(0)
        for record in verified:
            files = identity(record.get("files") or [])
            if record.get("catalog_before") != here or files != goal[: len(files)]:
                continue
            if files == goal:
                return [*path, record]
            after = record.get("catalog_after")
            if isinstance(after, str) and after not in seen:
                seen.add(after)
                frontier.append((after, [*path, record]))
    return None


def decide(
    source: str, records: list[dict[str, Any]], wanted: list[dict[str, Any]], before: dict[str, Any], catalog_diff
) -> Verdict:
    """Whether the files ``wanted`` may be applied to a target whose catalog is ``before``.
    ``catalog_diff(expected, actual)`` gives readable lines (the schema check's diff)."""
    verified = [r for r in records if r.get("verified")]
    same_files = [r for r in verified if same(r.get("files") or [], wanted)]
    if not same_files:
        closest = verified[0] if verified else None
        diff = file_diff(wanted, closest["files"]) if closest else [f"- {f['file']}" for f in wanted]
        where = f"the newest, {closest['path']}" if closest else "none is verified"
        return Verdict(
            False,
            f"PROMOTE_FROM={source}: no verified plan record of {source} has these files "
            f"(same checksums, same order): converge {source} first ({len(records)} record(s); "
            f"{where})",
            tuple(diff[:MAX_LINES]),
        )
    mine = fingerprint(before)
    steps = chain(verified, mine, wanted)
    if steps:
        return Verdict(
            True, f"promoted from {source}: {' then '.join(r['path'] for r in steps)}", record=steps[-1]["path"]
        )
    record = same_files[0]
    diff = catalog_diff(record.get("catalog_before_snapshot") or {}, normalized(before))
    return Verdict(
        False,
        f"PROMOTE_FROM={source}: this target's catalog before ({mine[:19]}) differs from the one "
        f"{source} applied these files to ({str(record.get('catalog_before'))[:19]}, "
        f"{record['path']}): bring it to {source}'s starting schema, "
        f"or converge {source} from this one",
        tuple(diff[:MAX_LINES]),
        record["path"],
    )
