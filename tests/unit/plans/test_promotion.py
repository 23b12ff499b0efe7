"""The promotion verdict (pure): same files, verified, from the same catalog."""

from __future__ import annotations

from tasks.plans.promotion import decide
from tasks.plans.record import fingerprint

EMPTY: dict = {}
ONE = {"tables": {"public.users": {"columns": {"id": {"type": "bigint"}}}}}
FILES = [
    {"version": 1, "file": "001_a.sql", "checksum": "a" * 64},
    {"version": 2, "file": "002_b.sql", "checksum": "b" * 64},
]


def record(files=FILES, before=EMPTY, verified=True, path="plans/plan-staging-1.json") -> dict:
    return {
        "files": files,
        "verified": verified,
        "catalog_before": fingerprint(before),
        "catalog_before_snapshot": before,
        "path": path,
    }


def diff(expected, actual):
    return [f"~ {sorted(expected)} vs {sorted(actual)}"] if expected != actual else []


def test_allowed_when_staging_applied_and_verified_the_same_files_from_the_same_catalog():
    verdict = decide("staging", [record()], FILES, EMPTY, diff)
    assert verdict.allowed and verdict.record == "plans/plan-staging-1.json"


def test_refused_before_staging_ran_naming_the_files():
    verdict = decide("staging", [], FILES, EMPTY, diff)
    assert not verdict.allowed and "no verified plan record of staging" in verdict.line
    assert verdict.diff == ("- 001_a.sql", "- 002_b.sql")


def test_refused_when_a_checksum_or_the_order_differs_or_not_verified():
    edited = [FILES[0], {**FILES[1], "checksum": "c" * 64}]
    verdict = decide("staging", [record(edited)], FILES, EMPTY, diff)
    assert not verdict.allowed and any(line.startswith("~ 002_b.sql") for line in verdict.diff)
    assert not decide("staging", [record(list(reversed(FILES)))], FILES, EMPTY, diff).allowed
    assert not decide("staging", [record(verified=False)], FILES, EMPTY, diff).allowed


def test_refused_when_this_catalog_before_differs_with_the_diff():
    verdict = decide("staging", [record()], FILES, ONE, diff)
    assert not verdict.allowed and "catalog before" in verdict.line and verdict.diff


def test_a_file_renamed_after_staging_is_the_same_migration():
    renamed = [FILES[0], {**FILES[1], "file": "002_b_renamed.sql"}]
    assert decide("staging", [record()], renamed, EMPTY, diff).allowed


def test_records_that_chain_cover_the_files_from_this_catalog():
    """staging went empty -> 001 then 001 -> 002 in two runs; production at empty applies both."""
    first = {**record(FILES[:1], path="plans/plan-staging-1.json"), "catalog_after": fingerprint(ONE)}
    second = {**record(FILES, before=ONE, path="plans/plan-staging-2.json"), "catalog_after": "sha256:two"}
    verdict = decide("staging", [second, first], FILES, EMPTY, diff)
    assert verdict.allowed and "plan-staging-1.json then plans/plan-staging-2.json" in verdict.line
    broken = {**first, "catalog_after": "sha256:elsewhere"}
    assert not decide("staging", [second, broken], FILES, EMPTY, diff).allowed
