"""
Benchmark of the verified backup (issue 4): ``tasks.dump.take_backup`` (pg_dump -Fc in an exported
snapshot, exact row counts, pg_restore --list, sha256, manifest) ÷ a bare ``pg_dump -Fc`` of the
same database, side by side. Goal ≤ 1.15 on the ~1 GB sample (``--messages 3400000``).
Usage: ``python -m bench.backup [--messages 300000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

from bench import results
from tasks import sample_data, sandbox
from tasks.connections import ServiceFile
from tasks.migrate import Limits, apply_migrations
from tasks.migration_files import read_migrations

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--messages", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "bench" / "RESULTS-backup.md"))
    args = parser.parse_args(argv)
    sandbox.up()
    name = f"bench_{secrets.token_hex(4)}"
    admin = psycopg.connect(sandbox.admin_conninfo("source", "postgres"), autocommit=True)
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        conninfo = sandbox.admin_conninfo("source", name)
        apply_migrations(conninfo, read_migrations(ROOT / "files" / "migrations"), None, Limits())
        sample_data.generate(conninfo, args.messages)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        params = dict(part.split("=", 1) for part in conninfo.split())
        params["dbname"] = name
        service = ServiceFile({"bench": params})
        service.install()
        from tasks import dump

        bare, verified = [], []
        with tempfile.TemporaryDirectory(prefix="pgconverge-bench-") as tmp:
            for i in range(args.repeat):
                print(f"run {i + 1}/{args.repeat}", file=sys.stderr)
                started = time.perf_counter()
                subprocess.run(["pg_dump", "-Fc", "-f", f"{tmp}/bare.dump", "-d", "service=bench"], check=True)
                bare.append(time.perf_counter() - started)
                started = time.perf_counter()
                dump.take_backup("bench", Path(tmp) / "verified", "bench", None, lambda m: None)
                verified.append(time.perf_counter() - started)
        service.remove()
    finally:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    b, v = statistics.median(bare), statistics.median(verified)
    text = results.write(
        args.out, "Verified backup benchmark", f"python -m bench.backup --messages {args.messages} --repeat {args.repeat}",
        ("measurement", "median"),
        [("bare `pg_dump -Fc`", f"{b:.2f} s"),
         ("verified backup (snapshot, row counts, `pg_restore --list`, sha256, manifest)", f"{v:.2f} s"),
         ("ratio", f"**{v / b:.2f}** (goal ≤ 1.15)")],
        note=f": database of {size / 1e6:,.0f} MB, medians",
    )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
