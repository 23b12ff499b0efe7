"""
Benchmark of the data copy (issue 6): ``tasks.datacopy.copy_data`` (snapshot, binary COPY per table,
count and checksum verified before each commit, sequences) ÷ ``pg_dump -Fc -Z0 | pg_restore
--no-owner --no-acl`` of the same data into an empty schema (what ``heroku pg:push`` runs).
Goal ≤ 1.0 on the ~1 GB sample (``--messages 3400000``), and the verification ≤ 20 % of the copy.
Usage: ``python -m bench.copy [--messages 300000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

from bench import results
from tasks import datacopy, sample_data, sandbox
from tasks.connections import ServiceFile
from tasks.migrate import Limits, apply_migrations
from tasks.migration_files import read_migrations

ROOT = Path(__file__).resolve().parents[1]


def database(which: str, name: str) -> dict:
    with psycopg.connect(sandbox.admin_conninfo(which, "postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = dict(part.split("=", 1) for part in sandbox.admin_conninfo(which, name).split())
    return params


def drop(which: str, name: str) -> None:
    with psycopg.connect(sandbox.admin_conninfo(which, "postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _push() -> None:
    done = subprocess.run("pg_dump -Fc -Z0 --data-only --exclude-table-data=schema_migrations -d service=bsource | pg_restore --no-owner --no-acl "
                          "--data-only --disable-triggers --exit-on-error -d service=ba",
                          shell=True, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"pg_dump | pg_restore failed: {done.stderr.strip()[-500:]}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--messages", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "bench" / "RESULTS-copy.md"))
    args = parser.parse_args(argv)
    sandbox.up()
    migrations = read_migrations(ROOT / "files" / "migrations")
    source = f"bench_src_{secrets.token_hex(3)}"
    services = {"bsource": database("source", source)}
    try:
        apply_migrations(sandbox.admin_conninfo("source", source), migrations, None, Limits())
        sample_data.generate(sandbox.admin_conninfo("source", source), args.messages)
        with psycopg.connect(sandbox.admin_conninfo("source", source)) as conn:
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        copies, pushes, verifications = [], [], []
        for i in range(args.repeat):
            print(f"run {i + 1}/{args.repeat}", file=sys.stderr)
            a, b = f"bench_a_{secrets.token_hex(3)}", f"bench_b_{secrets.token_hex(3)}"
            services["ba"], services["bb"] = database("target", a), database("target", b)
            service_file = ServiceFile(services)
            service_file.install()
            for name in (a, b):
                apply_migrations(sandbox.admin_conninfo("target", name), migrations, None, Limits())
            started = time.perf_counter()
            _push()
            pushes.append(time.perf_counter() - started)
            started = time.perf_counter()
            datacopy.copy_data("bsource", "bb", False, lambda m: None)
            copies.append(time.perf_counter() - started)
            with psycopg.connect(sandbox.admin_conninfo("target", b)) as conn:
                conn.execute(datacopy.PINNED_FORMAT)
                started = time.perf_counter()
                for table in datacopy.ordered_tables(conn):
                    datacopy.table_state(conn, table)
                verifications.append(time.perf_counter() - started)
            service_file.remove()
            drop("target", a)
            drop("target", b)
    finally:
        drop("source", source)
    push, copy, verify = statistics.median(pushes), statistics.median(copies), statistics.median(verifications)
    text = results.write(
        args.out, "Data copy benchmark", f"python -m bench.copy --messages {args.messages} --repeat {args.repeat}",
        ("measurement", "median"),
        [("`pg_dump -Fc -Z0 | pg_restore --no-owner --no-acl` (what `heroku pg:push` runs)", f"{push:.2f} s"),
         ("verified copy (snapshot, binary COPY per table, count + checksum before each commit)", f"{copy:.2f} s"),
         ("ratio", f"**{copy / push:.2f}** (goal ≤ 1.0)"),
         ("verification alone (count + checksum of every target table)", f"{verify:.2f} s = {verify / copy:.0%} of the copy (goal ≤ 20 %)")],
        note=f": source database of {size / 1e6:,.0f} MB, medians",
    )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
