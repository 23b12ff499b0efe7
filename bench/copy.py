"""
Scenario 4: the data copy with verification (``tasks.data.copy.copy_data``: one snapshot, binary
COPY per table, ``COPY_JOBS`` tables at once, row count and checksum compared before each commit,
sequences, the independent completeness check) into the chat app's empty schema ÷
``pg_dump -Fc -Z0 | pg_restore --no-owner --no-acl`` of the same database into an empty database
(what ``heroku pg:push`` runs). Beside it: ``pgcopydb clone`` (Debian's package, the same jobs)
into an empty database, and the whole deploy in copy mode and in fresh mode (``pyinfra -y``, the
migrations and every other desired state included; the source backup already current): the
verified copy's figure (issue 30) is the copy-mode deploy minus the fresh-mode deploy, ÷ push
(goal ≤ 0.85) and ÷ pgcopydb (goal ≤ 1), round by round. Also reported: the verification's share
of the copy (goal ≤ 0.10).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values
from psycopg import sql

import sandbox
from bench import databases
from bench.databases import Target
from bench.profile import Breakdown, timers
from bench.results import Goal, Row
from bench.sandbox_env import deploy_env, sandbox_env_file
from bench.timing import HarnessError, interleave, run, timed
from tasks.core.connections import ServiceFile

EXAMPLE = Path(__file__).resolve().parents[1] / "files" / "migrations"
PUSH = "pg_dump -Fc -Z0 -d service=bench_source | pg_restore --no-owner --no-acl -d service=bench_push"
PGCOPYDB = ["pgcopydb", "clone", "--source", "service=bench_source", "--target", "service=bench_pgcopydb",
            "--table-jobs", "2", "--index-jobs", "2", "--no-owner", "--no-acl", "--drop-if-exists"]
PYINFRA = str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "pyinfra")
FOREIGN_KEYS = """
SELECT format('%I.%I', n.nspname, c.relname), con.conname
  FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE con.contype = 'f'
"""


class Targets:
    """Empty databases on the target cluster for one round, named by role in the service file:
    ``bench_push``, ``bench_pgcopydb``, ``bench_deploy`` and ``bench_fresh`` (nothing in them) and
    ``bench_copy`` (the chat app's schema)."""

    def __init__(self, sample: str):
        self.service = ServiceFile({"bench_source": databases.admin_params("source", sample)})
        self.names: dict[str, str] = {}

    def __enter__(self):
        self.service.install()
        return self

    def __exit__(self, *exc):
        self.drop()
        self.service.remove()

    def create(self, roles: tuple[str, ...] = ("bench_push", "bench_copy", "bench_pgcopydb", "bench_deploy",
                                               "bench_fresh"),
               without_foreign_keys: bool = False) -> None:
        from tasks.migrations.engine import apply_migrations
        from tasks.migrations.files import read_migrations
        from tasks.migrations.session import Limits

        files = read_migrations(EXAMPLE)
        for role in roles:
            owner = "whynot_owner" if role in ("bench_deploy", "bench_fresh") else None
            name = databases.create("target", "bench_copy", owner=owner)
            self.names[role] = name
            self.service.add(role, databases.admin_params("target", name))
            if role in ("bench_push", "bench_pgcopydb", "bench_deploy", "bench_fresh"):
                continue
            conninfo = sandbox.admin_conninfo("target", name)
            apply_migrations(conninfo, files, None, Limits())
            if without_foreign_keys:
                import psycopg

                with psycopg.connect(conninfo, autocommit=True) as conn:
                    for table, constraint in conn.execute(FOREIGN_KEYS).fetchall():
                        conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                            sql.SQL(table), sql.Identifier(constraint)))

    def drop(self) -> None:
        databases.drop("target", *self.names.values())
        self.names.clear()


def push() -> float:
    return run(["bash", "-o", "pipefail", "-c", PUSH], what="pg_dump | pg_restore")


def copy() -> None:
    from tasks.data import copy as datacopy

    datacopy.copy_data("bench_source", "bench_copy", False, lambda message: None, jobs=os.cpu_count() or 1)


def pgcopydb() -> float:
    with tempfile.TemporaryDirectory(prefix="bench-pgcopydb-") as work:
        return run(PGCOPYDB + ["--dir", work], what="pgcopydb clone")


class Deploy:
    """The whole deploy in copy mode from the sample into ``bench_deploy`` (its owner, over SSL), with
    one state and backup folder for all rounds, so the source backup is taken once (in the warm-up)."""

    def __init__(self, sample: str):
        self.work = Path(tempfile.mkdtemp(prefix="bench-deploy-"))
        (self.work / "empty.env").write_text("")
        (self.work / "no-seed").mkdir()
        parts = urlsplit(dotenv_values(sandbox_env_file())["SOURCE_DATABASE_URL"])
        self.source_url = urlunsplit(parts._replace(path=f"/{sample}"))
        self.target = Target.from_sandbox()

    def __call__(self, dbname: str, mode: str = "copy") -> float:
        target_url = self.target.url_for(dbname)
        env = deploy_env(self.work, self.source_url, target_url, DATA_MIGRATION=mode, HEALTH_FAIL_ON="never")
        return run([PYINFRA, "-y", "inventory.py", "deploy.py"], env=env, what=f"the deploy in {mode} mode")

    def remove(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)


def verify(targets: Targets) -> float:
    """Count and checksum every table of the copy, as the copy does before each commit."""
    import psycopg

    from tasks.data import copy as datacopy
    from tasks.data.checksum import PINNED_FORMAT

    with psycopg.connect(sandbox.admin_conninfo("target", targets.names["bench_copy"]), autocommit=True) as conn:
        conn.execute(PINNED_FORMAT)
        started = time.perf_counter()
        tables = datacopy.Catalog(conn).tables
        for table in tables:
            datacopy.table_state(conn, table)
        if not tables:
            raise HarnessError("the copy's target has no tables")
        return time.perf_counter() - started


def data_copy(sample: str, sample_size: int, repeat: int, warmup: int) -> list[Row]:
    verifications: list[float] = []

    def copy_step(targets: Targets) -> float:
        elapsed = timed(copy)
        verifications.append(verify(targets))
        return elapsed

    steps: dict = {"push": push}
    unavailable = None if shutil.which("pgcopydb") else _why_not("pgcopydb")
    deploy = Deploy(sample)
    with Targets(sample) as targets:
        steps.update(copy=lambda: copy_step(targets), deploy=lambda: deploy(targets.names["bench_deploy"]),
                     fresh=lambda: deploy(targets.names["bench_fresh"], "fresh"))
        if not unavailable:
            steps["pgcopydb"] = pgcopydb
        try:
            samples = interleave(steps, repeat, warmup, "4. data copy", targets.create, targets.drop)
        finally:
            deploy.remove()
    verifications = verifications[-repeat:]
    scenario, size, loads = "4. Data copy", f"{sample_size / 1e6:,.0f} MB database", samples.loads
    return [
        Row(scenario, size, "`pg_dump -Fc -Z0 | pg_restore --no-owner --no-acl` into an empty database "
            "(what `heroku pg:push` runs)", samples["push"], loads=loads),
        Row(scenario, size, "verified copy engine alone (`copy_data`, 2 jobs) into the empty schema "
            "÷ `pg_dump | pg_restore`", samples["copy"],
            samples.ratios(lambda t: t["copy"], lambda t: t["push"]), None, loads),
        Row(scenario, size, "`pgcopydb clone --table-jobs 2 --index-jobs 2` (Debian's package) into an empty database "
            "÷ `pg_dump | pg_restore`", samples.times.get("pgcopydb", []),
            samples.ratios(lambda t: t["pgcopydb"], lambda t: t["push"]) if not unavailable else [], None, loads,
            note=unavailable or ""),
        Row(scenario, size, "the whole deploy in copy mode (`pyinfra -y`, migrations and every desired state; source "
            "backup current) ÷ `pg_dump | pg_restore`", samples["deploy"],
            samples.ratios(lambda t: t["deploy"], lambda t: t["push"]), None, loads),
        Row(scenario, size, "the whole deploy in fresh mode (schema, no rows) into an empty database", samples["fresh"],
            loads=loads),
        Row(scenario, size, "**verified copy**: (copy-mode deploy − fresh-mode deploy) ÷ `pg_dump | pg_restore`", [],
            samples.ratios(lambda t: t["deploy"] - t["fresh"], lambda t: t["push"]), Goal(0.85), loads),
        Row(scenario, size, "(copy-mode deploy − fresh-mode deploy) ÷ `pgcopydb clone` (at most pgcopydb's)", [],
            samples.ratios(lambda t: t["deploy"] - t["fresh"], lambda t: t["pgcopydb"]) if not unavailable else [],
            Goal(1.0) if not unavailable else None, loads, note=unavailable or ""),
        Row(scenario, size, "of which verification (count + checksum of every table) ÷ the copy", verifications,
            [v / c for v, c in zip(verifications, samples["copy"])], Goal(0.10), loads),
    ]


def profile(sample: str) -> str:
    """Where the copy's time goes: one copy with wall-clock timers around its steps (not cProfile,
    which would slow the per-block calls), then the same copy into the schema without its foreign
    keys (what checking them in bulk after each table's load costs)."""
    import psycopg

    from tasks.data import copy as datacopy

    with Targets(sample) as targets:
        targets.create(("bench_push", "bench_copy"))
        reference = push()
        with timers({
            "copy_table": (datacopy.loader.Worker, "copy"), "table_state": (datacopy.loader, "table_state"),
            "ranges": (datacopy.ranged, "copy_range"), "finish_ranges": (datacopy.ranged, "finish"),
            "put_back": (datacopy.rebuild, "put_back"),
            "sequences": (datacopy.sequences, "advance"), "check": (datacopy.check, "check"),
            "write": (psycopg.Copy, "write"), "finish": (psycopg.Copy, "finish"),
        }) as found:
            total = timed(copy)
        targets.drop()
        targets.create(("bench_copy",), without_foreign_keys=True)
        without_fks = timed(copy)
    breakdown = Breakdown(None, total, "verified copy", reference, "`pg_dump | pg_restore` just before",
                          f"with wall-clock timers around its steps; {os.cpu_count()} jobs, so the steps of "
                          "tables loaded at once add up to more than the wall clock")
    breakdown.add_seconds("copy of each table, its source checksum computed meanwhile (`Worker.copy`)",
                          found["copy_table"][1], found["copy_table"][0])
    breakdown.add_seconds("writing 1 MiB blocks read from the source's psql to the target (psycopg `Copy.write`; "
                          "the server inserts the rows; a big table's keys and indexes are set aside meanwhile)",
                          found["write"][1], found["write"][0], nested=True)
    breakdown.add_seconds("ending each COPY (`Copy.finish`)", found["finish"][1], found["finish"][0], nested=True)
    breakdown.add_seconds("count + checksum (`table_state`, all calls: plan, source while streaming, target "
                          "before COMMIT)", found["table_state"][1], found["table_state"][0],
                          nested="across the rows above:")
    breakdown.add_seconds("ranges of the tables over COPY_SPLIT_MB, each with its source range checksum "
                          "(`ranged.copy_range`)", found["ranges"][1], found["ranges"][0])
    breakdown.add_seconds("whole-table check of a table copied in ranges (`ranged.finish`)",
                          found["finish_ranges"][1], found["finish_ranges"][0])
    breakdown.add_seconds("indexes and keys built, foreign keys added NOT VALID and validated after the rows, "
                          "in parallel (`rebuild.put_back`)", found["put_back"][1], found["put_back"][0])
    breakdown.add_seconds("sequences", found["sequences"][1], found["sequences"][0])
    breakdown.add_seconds("independent completeness check (`check.check`)", found["check"][1], found["check"][0])
    return (breakdown.markdown() + "\n\nThe same copy into the same schema without its foreign keys: "
            f"{without_fks:.2f} s ({without_fks - total:+.2f} s against the copy with them).")


def _why_not(peer: str) -> str:
    reason = Path(__file__).resolve().parents[1] / ".tools" / f"{peer}.failed"
    return reason.read_text().strip() if reason.exists() else f"{peer} is not installed (scripts/install-bench-peers)"
