"""
Scenarios 1 and 2: the whole deploy (``pyinfra -y inventory.py deploy.py``) on the sandbox.

1. No-op converge of a converged target: deploy ÷ a bare ``pyinfra @local exec -- true``, with
   4 and with N migrations applied (goals: each ≤ 2.0; the two within 10 % of each other).
2. Fresh apply of N generated migrations, the proof already cached: (deploy − the pyinfra floor)
   ÷ the same files in one psql session, one transaction each (goal ≤ 1.3); the migration engine
   alone and the peers (yoyo, dbmate, sqitch), each ÷ the same psql floor.
6. The same on real migrations: Lemmy's, vendored under tests/samples/lemmy (AGPL-3.0), all 247
   or the first N.

Everything that applies migrations connects the same way: the target's owner role, over TCP
with SSL, to a fresh database created for that step of that round.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from dotenv import dotenv_values

from bench import databases
from bench import peers as peer_modules
from bench.databases import Target
from bench.generate_migrations import generate
from bench.profile import Breakdown, add_facts, add_operations, profile_command
from bench.results import Goal, Row
from bench.sandbox_env import deploy_env, sandbox_env_file
from bench.timing import HarnessError, interleave, run

ROOT = Path(__file__).resolve().parents[1]
PYINFRA = str(Path(sys.executable).with_name("pyinfra"))
OWNER = "whynot_owner"
EXAMPLE = ROOT / "files" / "migrations"
LEMMY = ROOT / "tests" / "samples" / "lemmy" / "migrations"


def real_files(limit: int | None = None) -> list[tuple[str, str]]:
    """Lemmy's vendored migrations in version order, the first ``limit`` of them (None: all)."""
    paths = sorted(LEMMY.glob("*.sql"), key=lambda path: int(path.name.split("_", 1)[0]))
    if not paths:
        raise HarnessError(f"no migrations in {LEMMY.relative_to(ROOT)} (python tests/samples/lemmy/vendor.py)")
    return [(path.name, path.read_text()) for path in paths[:limit]]


class Deploy:
    """The deploy pointed at one database of the sandbox target, with its state in ``work``."""

    def __init__(self, work: Path, files: list[tuple[str, str]]):
        self.target = Target.from_sandbox()
        self.source_url = dotenv_values(sandbox_env_file())["SOURCE_DATABASE_URL"]
        self.work = work
        self.files = files  # [(filename, sql)]
        self.many = work / "many"
        self.many.mkdir(parents=True, exist_ok=True)
        for stale in self.many.glob("*.sql"):  # another set written here before: never mix two sets
            stale.unlink()
        for filename, text in self.files:
            (self.many / filename).write_text(text)
        (work / "empty.env").write_text("")
        (work / "no-seed").mkdir(exist_ok=True)

    def env(self, dbname: str, migrations: Path) -> dict:
        return deploy_env(self.work, self.source_url, self.target.url_for(dbname), MIGRATIONS_DIR=str(migrations))

    def command(self) -> list[str]:
        return [PYINFRA, "-y", "inventory.py", "deploy.py"]

    def deploy(self, dbname: str, migrations: Path) -> float:
        return run(self.command(), env=self.env(dbname, migrations), what="the deploy")

    def pyinfra_floor(self) -> float:
        return run([PYINFRA, "-y", "@local", "exec", "--", "true"], what="pyinfra @local exec -- true")

    def psql_floor(self, dbname: str) -> float:
        files = "".join(f"BEGIN;\n\\i {self.many / name}\nCOMMIT;\n" for name, _ in self.files)
        script = "\\set ON_ERROR_STOP 1\n" + files
        return run(["psql", "-X", "-q", "-f", "-"], env=self.target.libpq_env(os.environ, dbname), stdin=script,
                   what="psql (one session)")

    def engine_alone(self, dbname: str) -> float:
        """The migration engine in this process: no pyinfra, no other desired state."""
        from tasks.migrations.engine import apply_migrations
        from tasks.migrations.files import read_migrations
        from tasks.migrations.session import Limits

        files = read_migrations(self.many)
        started = time.perf_counter()
        apply_migrations(self.target.conninfo(dbname), files, None, Limits())
        return time.perf_counter() - started

    def applied(self, dbname: str) -> int | None:
        return self.target.count(dbname, "SELECT count(*) FROM schema_migrations")


def noop_converge(work: Path, files: int, repeat: int, warmup: int) -> list[Row]:
    """Scenario 1."""
    deploy = Deploy(work / "noop", generate(files))
    many, four = databases.create("target", owner=OWNER), databases.create("target", owner=OWNER)
    try:
        deploy.deploy(many, deploy.many)  # converge both (and prove both sets of files) first
        deploy.deploy(four, EXAMPLE)
        samples = interleave({
            "pyinfra": deploy.pyinfra_floor,
            "many": lambda: deploy.deploy(many, deploy.many),
            "four": lambda: deploy.deploy(four, EXAMPLE),
        }, repeat, warmup, "1. no-op converge")
        if deploy.applied(many) != files:
            raise HarnessError(f"no-op converge: the target has {deploy.applied(many)} of {files} migrations")
    finally:
        databases.drop("target", many, four)
    scenario, loads = "1. No-op converge", samples.loads
    examples = len(list(EXAMPLE.glob("*.sql")))
    return [
        Row(scenario, "—", "bare `pyinfra -y @local exec -- true` (the floor)", samples["pyinfra"], loads=loads),
        Row(scenario, f"{examples} applied", "deploy ÷ floor", samples["four"],
            samples.ratios(lambda t: t["four"], lambda t: t["pyinfra"]), Goal(2.0), loads),
        Row(scenario, f"{files} applied", "deploy ÷ floor", samples["many"],
            samples.ratios(lambda t: t["many"], lambda t: t["pyinfra"]), Goal(2.0), loads),
        Row(scenario, f"{files} vs {examples} applied", f"deploy with {files} ÷ deploy with {examples}", [],
            samples.ratios(lambda t: t["many"], lambda t: t["four"]), Goal(1.10), loads),
    ]


def fresh_apply(work: Path, files: int, repeat: int, warmup: int, with_peers: bool = True) -> list[Row]:
    """Scenario 2: generated files."""
    return _fresh(Deploy(work / "fresh", generate(files)), "2. Fresh apply", f"{files} migrations",
                  repeat, warmup, with_peers)


def real_apply(work: Path, limit: int | None, repeat: int, warmup: int, with_peers: bool = True) -> list[Row]:
    """Scenario 6: Lemmy's real migrations (all, or the first ``limit``)."""
    files = real_files(limit)
    return _fresh(Deploy(work / "real", files), "6. Fresh apply, real migrations", f"{len(files)} Lemmy migrations",
                  repeat, warmup, with_peers)


def _fresh(deploy: Deploy, scenario: str, size: str, repeat: int, warmup: int, with_peers: bool) -> list[Row]:
    """Fresh apply of ``deploy.files`` to new empty databases, beside the floors and the peers."""
    files = len(deploy.files)
    # Prove the files once (the proof is cached by checksum, as on a real second machine run).
    first = databases.create("target", owner=OWNER)
    try:
        deploy.deploy(first, deploy.many)
    finally:
        databases.drop("target", first)

    peers = [cls(deploy.target, deploy.work / "peers") for cls in peer_modules.ALL] if with_peers else []
    ready, skipped = [], {}
    for peer in peers:
        why = peer.unavailable()
        if why:
            skipped[peer.name] = why
        else:
            peer.prepare(deploy.files)
            ready.append(peer)
    invalid: dict[str, str] = {}
    created: dict[str, str] = {}
    names = ["psql", "deploy", "engine", *(p.name for p in ready)]

    def before_round() -> None:
        for name in names:
            created[name] = databases.create("target", owner=OWNER)

    def after_round() -> None:
        databases.drop("target", *created.values())
        created.clear()

    def checked(name: str, step, count) -> float:
        elapsed = step(created[name])
        got = count(created[name])
        if got != files:
            raise HarnessError(f"{name}: {got} of {files} migrations recorded after the run")
        return elapsed

    def peer_step(peer: peer_modules.Peer):
        def step() -> float:
            if peer.name in invalid:
                return float("nan")
            try:
                return checked(peer.name, peer.apply, peer.applied)
            except HarnessError as exc:
                lines = str(exc).splitlines()
                invalid[peer.name] = next((line for line in lines if "ERROR" in line), lines[0])
                return float("nan")
        return step

    steps = {
        "pyinfra": deploy.pyinfra_floor,
        "psql": lambda: deploy.psql_floor(created["psql"]),
        "deploy": lambda: checked("deploy", lambda db: deploy.deploy(db, deploy.many), deploy.applied),
        "engine": lambda: checked("engine", deploy.engine_alone, deploy.applied),
        **{peer.name: peer_step(peer) for peer in ready},
    }
    samples = interleave(steps, repeat, warmup, scenario, before_round, after_round)

    loads = samples.loads
    psql = lambda t: t["psql"]  # noqa: E731
    rows = [
        Row(scenario, size, "bare `pyinfra -y @local exec -- true` (pyinfra floor)", samples["pyinfra"], loads=loads),
        Row(scenario, size, "`psql`, one session, one transaction per file (psql floor)", samples["psql"], loads=loads),
        Row(scenario, size,
            "the whole deploy (every desired state, proof cached): (deploy − pyinfra floor) ÷ psql floor",
            samples["deploy"],
            samples.ratios(lambda t: t["deploy"] - t["pyinfra"], psql), Goal(1.3), loads),
        Row(scenario, size, "migration engine alone (in-process) ÷ psql floor", samples["engine"],
            samples.ratios(lambda t: t["engine"], psql), None, loads),
    ]
    for peer in peers:
        label = f"peer: {peer.name} ÷ psql floor"
        if peer.name in skipped:
            rows.append(Row(scenario, size, label, note=skipped[peer.name]))
        elif peer.name in invalid:
            rows.append(Row(scenario, size, label, note=f"invalid: {invalid[peer.name]}", loads=loads))
        else:
            rows.append(Row(scenario, size, f"peer: {peer.name} {peer.version()} ÷ psql floor", samples[peer.name],
                            samples.ratios(lambda t, n=peer.name: t[n], psql), None, loads))
    if with_peers is False:
        rows.append(Row(scenario, size, "peers (yoyo, dbmate, sqitch)", note="skipped in this run (--no-peers)"))
    return rows


def profile(work: Path, files: int | list[tuple[str, str]], fresh: bool) -> str:
    """Where one deploy's time goes: a fresh apply of ``files`` (a number of generated migrations,
    or the files themselves), or (not ``fresh``) a no-op deploy with them applied. cProfile of the
    pyinfra process, wall clock."""
    folder = work / ("profile-" + ("fresh" if fresh else "noop") + ("-given" if isinstance(files, list) else ""))
    given = files if isinstance(files, list) else generate(files)
    files = len(given)
    deploy = Deploy(folder, given)
    warm, db = databases.create("target", owner=OWNER), databases.create("target", owner=OWNER)
    try:
        deploy.deploy(warm, deploy.many)  # proves the files: cached for the profiled run
        if not fresh:
            deploy.deploy(db, deploy.many)
        floor = deploy.pyinfra_floor()
        env = deploy.target.libpq_env(os.environ, db)
        one_psql = sorted(run(["psql", "-X", "-q", "-A", "-t", "-c", "SELECT 1"], env=env, what="psql -c 'SELECT 1'")
                          for _ in range(5))[2]
        stats, total = profile_command(PYINFRA, deploy.command()[1:], deploy.env(db, deploy.many))
        if deploy.applied(db) != files:
            raise HarnessError(f"profiled deploy: {deploy.applied(db)} of {files} migrations applied")
    finally:
        databases.drop("target", warm, db)
    what = f"deploy, fresh apply of {files} migrations" if fresh else f"no-op deploy, {files} migrations applied"
    breakdown = Breakdown(stats, total, what, floor, "bare `pyinfra -y @local exec -- true` just before")
    breakdown.add_seconds("Python start-up before profiling, and writing the profile", total - stats.total_tt)
    add_operations(breakdown)
    add_facts(breakdown)
    breakdown.add("reading the migration files (`read_migrations`)", "tasks/migrations/files.py", "read_migrations",
                  nested="in the rows above or below:")
    breakdown.add("imports (every module, wherever imported)", "<frozen importlib._bootstrap>", "_find_and_load",
                  nested="in the rows above or below:")
    return (breakdown.markdown() + f"\n\nOne `psql -c 'SELECT 1'` process connecting to the target as the facts do "
            f"(TCP, SSL, password), outside pyinfra: {one_psql * 1000:.0f} ms (median of 5).")
