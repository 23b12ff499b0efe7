"""
Every benchmark scenario on the sandbox, one results page: ``python -m bench.run`` (``make bench``)
rewrites bench/RESULTS.md; ``python -m bench.run --smoke`` (``make bench-smoke``, run by CI) runs
the same code at tiny sizes in seconds and writes bench/out/RESULTS-smoke.md.

Each scenario runs its steps side by side, in rounds, after a warm-up (:mod:`bench.timing`), and
reports medians, the spread, and ratios taken round by round. A missed goal gets a profile of one
more run of its slow side (:mod:`bench.profile`) in the closing notes. Exits 1 when the harness
itself failed (a step that could not run, a peer that did not apply every file), never because a
goal was missed.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import psycopg

import sandbox
from bench import backup, copy, databases, migrations, peers, snapshot
from bench.results import Row, machine, write
from bench.timing import HarnessError, load1, say
from sandbox import bytecode

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ("noop", "fresh", "real", "backup", "copy", "snapshot")


@dataclass
class Sizes:
    files: int = 250
    repeat: int = 7
    warmup: int = 1
    messages: int = 3_400_000  # ≈ 1 GB (sandbox/sample_data.py)
    big_repeat: int = 3  # rounds of the backup and copy scenarios (the sample is large)
    tables: int = 200
    real_files: int | None = None  # the first N of Lemmy's vendored migrations (None: all 247)


SMOKE = Sizes(
    files=10, repeat=1, warmup=0, messages=10_000, big_repeat=1, tables=20, real_files=10
)  # CI: each code path once
# (no warm-up round: it runs the same code as the measured round, and smoke checks no timing)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.strip().splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds (CI)")
    parser.add_argument("--out", help="results file (default bench/RESULTS.md; smoke: bench/out/RESULTS-smoke.md)")
    parser.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated subset of {','.join(SCENARIOS)}")
    parser.add_argument("--files", type=int, help="generated migrations (scenarios 1 and 2)")
    parser.add_argument(
        "--real-files", type=int, help="the first N of Lemmy's 247 real migrations (scenario 6; default all)"
    )
    parser.add_argument("--repeat", type=int, help="measured rounds (scenarios 1, 2, 5, 6)")
    parser.add_argument("--warmup", type=int, help="warm-up rounds, thrown away")
    parser.add_argument("--messages", type=int, help="messages in the backup/copy sample (3,400,000 ≈ 1 GB)")
    parser.add_argument("--big-repeat", type=int, help="measured rounds of the backup and copy scenarios")
    parser.add_argument("--tables", type=int, help="tables of the snapshot schema (and twice as many)")
    parser.add_argument("--no-peers", action="store_true", help="leave yoyo, dbmate and sqitch out")
    parser.add_argument(
        "--profile",
        choices=("missed", "all", "none"),
        default=None,
        help="profile the slow side of missed goals (default), of every profiled scenario "
        "(smoke's default, so the profiling code runs in CI), or none",
    )
    return parser.parse_args(argv)


def sizes_from(args: argparse.Namespace) -> Sizes:
    sizes = Sizes(**vars(SMOKE)) if args.smoke else Sizes()
    for name in vars(sizes):
        value = getattr(args, name)
        if value is not None:
            setattr(sizes, name, value)
    return sizes


def _client_version(tool: str) -> str:
    """``psql (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`` -> ``15.18``."""
    try:
        done = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return "not installed"
    words = done.stdout.split()
    return words[2] if len(words) > 2 else done.stdout.strip() or "?"


def versions(with_peers: bool) -> dict[str, str]:
    with psycopg.connect(sandbox.admin_conninfo("target", "postgres")) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0].split()[0]
    found = {
        "Python": sys.version.split()[0],
        "pyinfra": importlib.metadata.version("pyinfra"),
        "psycopg": importlib.metadata.version("psycopg"),
        "PostgreSQL server": server,
        "psql": _client_version("psql"),
        "pg_dump": _client_version("pg_dump"),
    }
    if with_peers:
        target = databases.Target.from_sandbox()
        for cls in peers.ALL:
            peer = cls(target, ROOT)
            found[peer.name] = peer.version() if peer.unavailable() is None else "not installed"
    return found


def failed_rows(scenario: str, exc: BaseException) -> list[Row]:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return [Row(scenario, "—", "—", note=f"invalid: the harness failed: {first}")]


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    sizes = sizes_from(args)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(only) - set(SCENARIOS)
    if unknown:
        print(
            f"bench: unknown scenario(s) {', '.join(sorted(unknown))}: pick from {', '.join(SCENARIOS)}",
            file=sys.stderr,
        )
        return 2
    out = Path(args.out) if args.out else ROOT / "bench" / ("out/RESULTS-smoke.md" if args.smoke else "RESULTS.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    profile_mode = args.profile or ("all" if args.smoke else "missed")
    with_peers = not args.no_peers

    started = time.perf_counter()
    load_start = load1()
    sandbox.up()
    bytecode.compile_code()
    for name in databases.drop_leftovers():
        say(f"dropped {name}, left behind by an interrupted run")
    info = machine()
    found_versions = versions(with_peers)
    rows: dict[str, list[Row]] = {}
    profiles: list[str] = []
    errors = 0

    def scenario(key: str, title: str, function, profiler=None) -> None:
        nonlocal errors
        if key not in only:
            return
        say(f"{title} …")
        began = time.perf_counter()
        try:
            rows[key] = function()
            say(f"{title}: measured in {time.perf_counter() - began:.0f} s")
        except (HarnessError, psycopg.Error, OSError, subprocess.SubprocessError) as exc:
            errors += 1
            traceback.print_exc()
            rows[key] = failed_rows(title, exc)
            return
        missed = [row for row in rows[key] if row.missed]
        if profiler and (profile_mode == "all" or (profile_mode == "missed" and missed)):
            say(f"{title}: profiling …")
            try:
                profiles.append(f"### {title}\n\n{profiler()}")
            except (HarnessError, psycopg.Error, OSError, subprocess.SubprocessError) as exc:
                errors += 1
                traceback.print_exc()
                profiles.append(f"### {title}\n\nThe profile could not be taken: {exc}")
        if any(row.note.startswith("invalid") for row in rows[key]):
            errors += 1

    with tempfile.TemporaryDirectory(prefix="pgconverge-bench-") as tmp:
        work = Path(tmp)
        # The deploy scenarios first: the others create databases on the source cluster, which
        # would make the deploy's source backup look stale (and be taken again, inside the timing).
        scenario(
            "noop",
            "1. No-op converge",
            lambda: migrations.noop_converge(work, sizes.files, sizes.repeat, sizes.warmup),
            lambda: migrations.profile(work, sizes.files, fresh=False),
        )
        scenario(
            "fresh",
            "2. Fresh apply",
            lambda: migrations.fresh_apply(work, sizes.files, sizes.repeat, sizes.warmup, with_peers),
            lambda: migrations.profile(work, sizes.files, fresh=True),
        )
        scenario(
            "real",
            "6. Fresh apply, real migrations",
            lambda: migrations.real_apply(work, sizes.real_files, sizes.repeat, sizes.warmup, with_peers),
            lambda: migrations.profile(work, migrations.real_files(sizes.real_files), fresh=True),
        )
        scenario(
            "snapshot", "5. Schema snapshot", lambda: snapshot.schema_snapshot(sizes.tables, sizes.repeat, sizes.warmup)
        )
        if "backup" in only or "copy" in only:
            say(f"sample database of {sizes.messages:,} messages …")
            with databases.sample_source(sizes.messages) as (sample, size):
                say(f"sample database: {size / 1e6:,.0f} MB")
                scenario(
                    "backup",
                    "3. Verified backup",
                    lambda: backup.verified_backup(work / "backup", sample, size, sizes.big_repeat, sizes.warmup),
                    lambda: backup.profile(work / "backup", sample),
                )
                scenario(
                    "copy",
                    "4. Data copy",
                    lambda: copy.data_copy(sample, size, sizes.big_repeat, sizes.warmup),
                    lambda: copy.profile(sample),
                )

    ordered = sorted(
        (row for key in SCENARIOS for row in rows.get(key, [])), key=lambda row: row.scenario.split(".")[0]
    )
    command = " ".join(["python -m bench.run", *(sys.argv[1:] if argv is None else argv)]).strip()
    info["load average (1 min)"] = f"{load_start:.2f} at the start, {load1():.2f} at the end"
    info["duration"] = f"{(time.perf_counter() - started) / 60:.1f} min"
    intro = [
        "Every figure is measured side by side on the sandbox clusters (`python -m sandbox up`): each",
        "scenario runs its steps in rounds, the order of the steps rotating from round to round, after",
        f"{sizes.warmup} warm-up round(s) that are thrown away. *median* and *spread* are over the measured rounds;",
        "*ratio* is the median of the per-round ratios (each taken between runs seconds apart, so it holds",
        "when the machine's load drifts), with their range. *load 1-min* is the 1-minute load average during",
        "the rounds. [docs/benchmarks.md](../docs/benchmarks.md) says what each figure means.",
    ]
    notes = []
    if profiles:
        notes.append(
            "## Where the time goes\n\nOne more run of the slow side, profiled (each step's cumulative wall "
            "time, waits for subprocesses and the server included). Rows marked *of which* are part of the "
            "row above them and are not added again."
        )
        notes += profiles
    if errors:
        notes.append(f"**{errors} harness error(s)**: see the rows marked invalid.")
    text = write(
        out,
        "Benchmarks" + (" (smoke run: tiny sizes, not results)" if args.smoke else ""),
        command,
        intro,
        info,
        found_versions,
        ordered,
        notes,
    )
    print(text)
    say(
        f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out} in "
        f"{time.perf_counter() - started:.0f} s" + (f"; {errors} harness error(s)" if errors else "")
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
