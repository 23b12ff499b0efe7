"""
Scenario 3: the verified backup (``tasks.backups.dump.take_backup``: pg_dump -Fc in an exported snapshot,
exact row counts, pg_restore --list, sha256, manifest) ÷ a bare ``pg_dump -Fc`` of the same
database, side by side. Goal ≤ 1.15 on the ~1 GB sample.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from bench import databases
from bench.profile import Breakdown, profile_call
from bench.results import Goal, Row
from bench.timing import interleave, run, timed
from tasks.core.connections import ServiceFile

SERVICE = "bench_backup"


def _steps(work: Path):
    from tasks.backups import dump

    bare, verified = work / "bare.dump", work / "verified"

    def take() -> None:
        dump.take_backup(SERVICE, verified, "bench", None, lambda message: None)

    def clean() -> None:
        bare.unlink(missing_ok=True)
        shutil.rmtree(verified, ignore_errors=True)

    return {
        "bare": lambda: run(["pg_dump", "-Fc", "-f", str(bare), "-d", f"service={SERVICE}"], what="pg_dump -Fc"),
        "verified": lambda: timed(take),
    }, take, clean


def verified_backup(work: Path, sample: str, sample_size: int, repeat: int, warmup: int) -> list[Row]:
    service = ServiceFile({SERVICE: databases.admin_params("source", sample)})
    service.install()
    work.mkdir(parents=True, exist_ok=True)
    try:
        steps, _, clean = _steps(work)
        samples = interleave(steps, repeat, warmup, "3. verified backup", after_round=clean)
    finally:
        service.remove()
    scenario, size = "3. Verified backup", f"{sample_size / 1e6:,.0f} MB database"
    return [
        Row(scenario, size, "bare `pg_dump -Fc`", samples["bare"], loads=samples.loads),
        Row(scenario, size, "verified backup ÷ bare `pg_dump -Fc`", samples["verified"],
            samples.ratios(lambda t: t["verified"], lambda t: t["bare"]), Goal(1.15), samples.loads),
    ]


def profile(work: Path, sample: str) -> str:
    """Where a verified backup's time goes (cProfile of one backup, wall clock)."""
    service = ServiceFile({SERVICE: databases.admin_params("source", sample)})
    service.install()
    work.mkdir(parents=True, exist_ok=True)
    try:
        steps, take, clean = _steps(work)
        bare = steps["bare"]()
        stats, total = profile_call(take)
        clean()
    finally:
        service.remove()
    breakdown = Breakdown(stats, total, "verified backup", bare, "bare `pg_dump -Fc` just before")
    breakdown.add("`pg_dump -Fc --snapshot` (the dump itself)", "tasks/backups/dump.py", "_dump_with_progress")
    breakdown.add("exact row counts (`count(*)` per table, in the dump's snapshot)", "tasks/backups/dump.py",
                  "_count_rows")
    breakdown.add("`pg_restore --list` + `pg_dump --version`", "tasks/backups/dump.py", "_run")
    breakdown.add("sha256 of the file", "tasks/backups/store.py", "sha256_file")
    breakdown.add("manifest, rename, pruning of temporary files", "tasks/backups/store.py", "write_manifest")
    return breakdown.markdown()
