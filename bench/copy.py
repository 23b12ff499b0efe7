"""
Scenario 4: the data copy with verification (``tasks.data.copy.copy_data``: one snapshot, binary
COPY per table, row count and checksum compared before each commit, sequences) into the chat
app's empty schema ÷ ``pg_dump -Fc -Z0 | pg_restore --no-owner --no-acl`` of the same database
into an empty database (what ``heroku pg:push`` runs). Goal ≤ 1.0 on the ~1 GB sample. Also
reported: the same dump restored data-only into the same empty schema as the copy's, and the
verification's share of the copy.
"""

from __future__ import annotations

import time
from pathlib import Path

from psycopg import sql

from bench import databases
from bench.profile import Breakdown, timers
from bench.results import Goal, Row
from bench.timing import HarnessError, interleave, run, timed
import sandbox
from tasks.core.connections import ServiceFile

EXAMPLE = Path(__file__).resolve().parents[1] / "files" / "migrations"
PUSH = "pg_dump -Fc -Z0 -d service=bench_source | pg_restore --no-owner --no-acl -d service=bench_push"
PUSH_DATA = ("pg_dump -Fc -Z0 --data-only --exclude-table-data=schema_migrations -d service=bench_source"
             " | pg_restore --no-owner --no-acl --data-only --disable-triggers --exit-on-error -d service=bench_push_data")
FOREIGN_KEYS = """
SELECT format('%I.%I', n.nspname, c.relname), con.conname
  FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE con.contype = 'f'
"""


class Targets:
    """Empty databases on the target cluster for one round, named by role in the service file:
    ``bench_push`` (nothing in it), ``bench_push_data`` and ``bench_copy`` (the chat app's schema)."""

    def __init__(self, sample: str):
        self.service = ServiceFile({"bench_source": databases.admin_params("source", sample)})
        self.names: dict[str, str] = {}

    def __enter__(self):
        self.service.install()
        return self

    def __exit__(self, *exc):
        self.drop()
        self.service.remove()

    def create(self, roles: tuple[str, ...] = ("bench_push", "bench_push_data", "bench_copy"),
               without_foreign_keys: bool = False) -> None:
        from tasks.migrations.engine import Limits, apply_migrations
        from tasks.migrations.files import read_migrations

        files = read_migrations(EXAMPLE)
        for role in roles:
            name = databases.create("target", "bench_copy")
            self.names[role] = name
            self.service.add(role, databases.admin_params("target", name))
            if role == "bench_push":
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


def push_data() -> float:
    return run(["bash", "-o", "pipefail", "-c", PUSH_DATA], what="pg_dump --data-only | pg_restore --data-only")


def copy() -> None:
    from tasks.data import copy as datacopy

    datacopy.copy_data("bench_source", "bench_copy", False, lambda message: None)


def verify(targets: Targets) -> float:
    """Count and checksum every table of the copy, as the copy does before each commit."""
    import psycopg

    from tasks.data import copy as datacopy

    with psycopg.connect(sandbox.admin_conninfo("target", targets.names["bench_copy"])) as conn:
        conn.execute(datacopy.PINNED_FORMAT)
        started = time.perf_counter()
        tables = datacopy.ordered_tables(conn)
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

    with Targets(sample) as targets:
        samples = interleave({"push": push, "push_data": push_data, "copy": lambda: copy_step(targets)},
                             repeat, warmup, "4. data copy", targets.create, targets.drop)
    verifications = verifications[-repeat:]
    scenario, size, loads = "4. Data copy", f"{sample_size / 1e6:,.0f} MB database", samples.loads
    return [
        Row(scenario, size, "`pg_dump -Fc -Z0 | pg_restore --no-owner --no-acl` into an empty database "
            "(what `heroku pg:push` runs)", samples["push"], loads=loads),
        Row(scenario, size, "verified copy into the empty schema ÷ `pg_dump | pg_restore`", samples["copy"],
            samples.ratios(lambda t: t["copy"], lambda t: t["push"]), Goal(1.0), loads),
        Row(scenario, size, "`pg_dump --data-only | pg_restore --data-only --disable-triggers` into the same empty schema "
            "(no foreign key checked)", samples["push_data"], loads=loads),
        Row(scenario, size, "verified copy ÷ that data-only restore", [],
            samples.ratios(lambda t: t["copy"], lambda t: t["push_data"]), None, loads),
        Row(scenario, size, "of which verification (count + checksum of every table) ÷ the copy", verifications,
            [v / c for v, c in zip(verifications, samples["copy"])], Goal(0.20), loads),
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
            "states": (datacopy, "states"), "copy_table": (datacopy, "_copy_table"),
            "table_state": (datacopy, "table_state"), "sequences": (datacopy, "_set_sequences"),
            "write": (psycopg.Copy, "write"), "finish": (psycopg.Copy, "finish"),
        }) as found:
            total = timed(copy)
        targets.drop()
        targets.create(("bench_copy",), without_foreign_keys=True)
        without_fks = timed(copy)
    breakdown = Breakdown(None, total, "verified copy", reference, "`pg_dump | pg_restore` just before",
                          "with wall-clock timers around its steps")
    breakdown.add_seconds("plan: count + checksum of every table, source and target (`states`)", found["states"][1],
                          found["states"][0])
    breakdown.add_seconds("copy of each table (`_copy_table`)", found["copy_table"][1], found["copy_table"][0])
    breakdown.add_seconds("writing 1 MiB blocks read from the source's psql to the target (psycopg `Copy.write`; "
                          "the server inserts the rows and keeps the primary key meanwhile)",
                          found["write"][1], found["write"][0], nested=True)
    breakdown.add_seconds("ending each COPY (`Copy.finish`)", found["finish"][1], found["finish"][0], nested=True)
    breakdown.add_seconds("plan and verification before COMMIT (`table_state`, all calls)", found["table_state"][1],
                          found["table_state"][0], nested="across the rows above:")
    breakdown.add_seconds("sequences", found["sequences"][1], found["sequences"][0])
    return (breakdown.markdown() + "\n\nNot timed apart: rebuilding the plain indexes and checking the foreign keys "
            "in bulk after each big table's load (inside `_copy_table`, after the COPY). The same copy into the same "
            f"schema without its foreign keys: {without_fks:.2f} s ({without_fks - total:+.2f} s against the copy "
            "with them).")
