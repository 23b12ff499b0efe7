"""
Benchmark of the migration engine (issue 3), on the sandbox clusters.

* fresh apply of N generated migrations, the proof already cached:
  (deploy − bare ``pyinfra @local exec -- true``) ÷ (the same files in one psql session, one
  transaction each). Goal ≤ 1.3.
* no-op rerun with N applied vs with 4 applied. Goal: within 15 %.

Each figure is the median of ``--repeat`` runs after a warm-up, measured side by side.
Usage: ``python -m bench.migrations [--files 250] [--repeat 5] [--out bench/RESULTS-migrations.md]``
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from dotenv import dotenv_values
from psycopg import sql

from bench import results
from bench.generate_migrations import write
from tasks import sandbox

ROOT = Path(__file__).resolve().parents[1]
PYINFRA = str(Path(sys.executable).with_name("pyinfra"))


def admin(dbname: str | None = None):
    return psycopg.connect(sandbox.admin_conninfo("target", dbname or "postgres"), autocommit=True)


def new_db() -> str:
    name = f"bench_{secrets.token_hex(4)}"
    with admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER whynot_owner").format(sql.Identifier(name)))
    return name


def drop_db(name: str) -> None:
    with admin() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def timed(command: list[str], env: dict | None = None, stdin: str | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, input=stdin, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(command[:3])}…\n{done.stderr[-2000:]}")
    return elapsed


class Bench:
    def __init__(self, files: int, work: Path):
        urls = dotenv_values(ROOT / ".sandbox" / "env")
        self.source, self.target = urls["SOURCE_DATABASE_URL"], urls["TARGET_DATABASE_URL"]
        self.work = work
        self.many = work / "many"
        self.paths = write(self.many, files)
        self.four = ROOT / "files" / "migrations"
        (work / "empty.env").write_text("")
        (work / "no-seed").mkdir()

    def env(self, db: str, migrations: Path) -> dict:
        base, _, query = self.target.partition("?")
        target = base.rsplit("/", 1)[0] + f"/{db}" + (f"?{query}" if query else "")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(ENV_FILE=str(self.work / "empty.env"), SOURCE_DATABASE_URL=self.source, TARGET_DATABASE_URL=target,
                   MIGRATIONS_DIR=str(migrations), SEED_DIR=str(self.work / "no-seed"),
                   STATE_DIR=str(self.work / "state"), PYINFRA_PROGRESS="off")
        return env

    def deploy(self, db: str, migrations: Path) -> float:
        return timed([PYINFRA, "-y", "inventory.py", "deploy.py"], self.env(db, migrations))

    def pyinfra_floor(self) -> float:
        return timed([PYINFRA, "-y", "@local", "exec", "--", "true"])

    def engine_alone(self, db: str) -> float:
        """The migration engine in this process (no pyinfra, no other desired state)."""
        from tasks.migrate import Limits, apply_migrations
        from tasks.migration_files import read_migrations

        files = read_migrations(self.many)
        started = time.perf_counter()
        apply_migrations(sandbox.admin_conninfo("target", db), files, None, Limits())
        return time.perf_counter() - started

    def psql_floor(self, db: str) -> float:
        script = "\\set ON_ERROR_STOP 1\n" + "".join(f"BEGIN;\n\\i {p}\nCOMMIT;\n" for p in self.paths)
        conninfo = sandbox.admin_conninfo("target", db)
        return timed(["psql", "-X", "-q", "-d", conninfo, "-f", "-"], stdin=script)


def median(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), (max(values) - min(values))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--files", type=int, default=250)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "bench" / "RESULTS-migrations.md"))
    args = parser.parse_args(argv)
    sandbox.up()
    with tempfile.TemporaryDirectory(prefix="pgconverge-bench-") as tmp:
        bench = Bench(args.files, Path(tmp))
        # Warm-up: prove both sets once (cached afterwards), warm the caches.
        for migrations in (bench.many, bench.four):
            db = new_db()
            bench.deploy(db, migrations)
            drop_db(db)
        fresh, floor_psql, floor_pyinfra, engine = [], [], [], []
        for i in range(args.repeat):
            print(f"fresh apply {i + 1}/{args.repeat}", file=sys.stderr)
            a, b, c = new_db(), new_db(), new_db()
            floor_pyinfra.append(bench.pyinfra_floor())
            floor_psql.append(bench.psql_floor(a))
            fresh.append(bench.deploy(b, bench.many))
            engine.append(bench.engine_alone(c))
            for db in (a, b, c):
                drop_db(db)
        noop_many, noop_four = [], []
        many_db, four_db = new_db(), new_db()
        bench.deploy(many_db, bench.many)
        bench.deploy(four_db, bench.four)
        for i in range(args.repeat):
            print(f"no-op rerun {i + 1}/{args.repeat}", file=sys.stderr)
            noop_many.append(bench.deploy(many_db, bench.many))
            noop_four.append(bench.deploy(four_db, bench.four))
        drop_db(many_db)
        drop_db(four_db)

    fp, _ = median(floor_pyinfra)
    fq, fq_spread = median(floor_psql)
    fd, fd_spread = median(fresh)
    nm, nm_spread = median(noop_many)
    nf, nf_spread = median(noop_four)
    fe, fe_spread = median(engine)
    ratio = (fd - fp) / fq
    noop_ratio = nm / nf
    rows = [
        ("bare `pyinfra @local exec -- true`", f"{fp:.2f} s", ""),
        (f"{args.files} files, one psql session, one transaction each (floor)", f"{fq:.2f} s (±{fq_spread / 2:.2f})", ""),
        (f"whole deploy (10 states), fresh apply of {args.files} files (proof cached)", f"{fd:.2f} s (±{fd_spread / 2:.2f})",
         f"(deploy − pyinfra) ÷ floor = **{ratio:.2f}** (goal ≤ 1.3)"),
        (f"migration engine alone, same {args.files} files", f"{fe:.2f} s (±{fe_spread / 2:.2f})",
         f"÷ floor = **{fe / fq:.2f}**"),
        (f"no-op rerun, {args.files} applied", f"{nm:.2f} s (±{nm_spread / 2:.2f})", f"÷ no-op rerun, 4 applied = **{noop_ratio:.2f}** (goal ≤ 1.15)"),
        ("no-op rerun, 4 applied", f"{nf:.2f} s (±{nf_spread / 2:.2f})", f"÷ bare pyinfra = {nf / fp:.2f}"),
    ]
    text = results.write(
        args.out, "Migration engine benchmark", f"python -m bench.migrations --files {args.files} --repeat {args.repeat}",
        ("measurement", "median", "ratio"), rows, note=f": medians of {args.repeat} runs after a warm-up",
    )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
