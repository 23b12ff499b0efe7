"""
Operations run from recorded facts, without a database or a host, the way pyinfra tests its own
(``tests/operations/<op>/<case>.json``): each case under ``cases/<module>.<op>/`` names the phase
(``planning`` or execute), the operation's arguments, the plan's inputs and the facts the run read;
the fact reads (:func:`tasks.core.fact.read`) and the seed count are answered from it, the plan is
built from them for real, and the operation's body runs with pyinfra's ``state`` and ``host``
stood in for. The outcome is what the summary would say: converged, will check, would change (with
the plan lines shown) or failed (with the line).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyinfra.api import FunctionCommand
from pyinfra.context import ctx_host, ctx_state

from tasks.core import summary
from tasks.core.fact import Unreadable
from tasks.data import sides as copysides
from tasks.data.seed import SeedCount, read_seed_files
from tasks.migrations.files import read_migrations
from tasks.migrations.plan import AppliedRow, TargetHistory
from tasks.plan import Planner

ROOT = Path(__file__).resolve().parents[3]
CASES = Path(__file__).parent / "cases"
MIGRATIONS = read_migrations(ROOT / "files" / "migrations", check=False)
SEEDS = read_seed_files(ROOT / "files" / "seed")
NAME = "State under test"


class FakeHost:
    """pyinfra's ``host`` as the operations use it: what they log is kept."""

    def __init__(self) -> None:
        self.current_op_hash = "op"
        self.executing_op_hash = None
        self.logged: list[str] = []
        self.noops: list[str] = []

    def noop(self, message: str) -> None:
        self.noops.append(message)

    def log(self, message: str, *args: Any, **kwargs: Any) -> None:
        self.logged.append(message)

    def log_styled(self, message: str, *args: Any, **kwargs: Any) -> None:
        self.logged.append(message)


@dataclass
class _Meta:
    names: tuple[str, ...] = (NAME,)


@dataclass
class _Config:
    DIFF: bool = False


@dataclass
class FakeState:
    """pyinfra's ``state`` as the operations use it."""

    is_executing: bool
    check_for_changes: bool = True
    config: _Config = field(default_factory=_Config)

    def get_op_meta(self, op_hash: str) -> _Meta:
        return _Meta()


def history(recorded: dict[str, Any], migrations: list[Any] | None = None) -> TargetHistory:
    """A ``MigrationHistory`` value from its record: the files applied by name (``edited``: applied
    with another checksum)."""
    files = {m.filename: m for m in migrations or MIGRATIONS}
    rows = tuple(
        AppliedRow(
            files[name].version,
            files[name].name,
            "0" * 64 if name in recorded.get("edited", []) else files[name].checksum,
        )
        for name in recorded.get("applied", [])
    )
    return TargetHistory(
        recorded.get("table_exists", bool(rows)),
        recorded.get("user_tables", len(rows)),
        rows,
        tuple(recorded.get("table_names", ())),
        leftovers=recorded.get("leftovers"),
    )


def side(recorded: dict[str, Any]) -> copysides.Side:
    """A ``CopyState`` value: ``{"tables": {name: [rows, checksum]}, "columns": {...}, "large_objects": n}``."""
    tables = {
        name: copysides.Relation(name, "", rows, checksum) for name, (rows, checksum) in recorded["tables"].items()
    }
    return copysides.Side(
        tables=tables,
        sequences=recorded.get("sequences", {}),
        large_objects=(recorded.get("large_objects", 0), ""),
        columns=recorded.get("columns", {}),
    )


def heroku_app(recorded: dict[str, Any]) -> Any:
    """A ``HerokuApp`` from its record: ``{"name", "pool_value", "web", "generation"}``."""
    from tasks.core.urls import parse_database_url
    from tasks.heroku.app import HerokuApp
    from tasks.heroku.parse import Dynos

    url = parse_database_url("postgres://u:p@db.example.com:5432/d?sslmode=require")
    dynos = Dynos(recorded.get("web", 1), recorded.get("release"), recorded.get("generation", "cedar"))
    return HerokuApp(recorded["name"], url, recorded.get("pool_var", "DB_POOL_MAX"), recorded.get("pool_value"), dynos)


def sizes(recorded: dict[str, Any]) -> dict[str, Any]:
    """A ``TableSizes`` value: ``{name: {"bytes", "rows", "writes", "seconds", "lockers", "empty"}}``."""
    from tasks.risk.size import TableSize

    return {
        name: TableSize(name, f.get("regclass", name), f["bytes"], f.get("rows", 0), f.get("writes", 0),
                        f.get("seconds", 1), f.get("lockers", 0), f.get("key", "id"), f.get("empty", False))
        for name, f in recorded.items()
    }


def catalog(recorded: dict[str, Any]) -> Any:
    """A ``SearchPathTables`` value: ``{"user", "schemas": [name], "tables": [[schema, name]]}``."""
    from tasks.risk.names import Catalog

    return Catalog(recorded["user"], frozenset(recorded["schemas"]), frozenset(map(tuple, recorded["tables"])))


CONVERT = {
    "MigrationHistory": history,
    "CopyState": side,
    "TableSizes": sizes,
    "FailingRows": tuple,
    "SearchPathTables": catalog,
}


def migrations(extra: dict[str, str], folder: Path) -> list[Any]:
    """The example app's files, and the case's ``migrations`` (file name -> SQL) after them."""
    if not extra:
        return MIGRATIONS
    folder.mkdir(parents=True)
    for migration in MIGRATIONS:
        (folder / migration.filename).write_text(migration.sql)
    for name, text in extra.items():
        (folder / name).write_text(text)
    return read_migrations(folder)


@dataclass
class Outcome:
    status: str  # converged | will check | would change | failed
    detail: str
    shown: list[str]  # the plan lines shown (would change) or what was logged


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def run_case(case: dict[str, Any], monkeypatch: Any, tmp_path: Path) -> Outcome:
    """Run the case's operation body; what the summary would say of it."""
    import importlib

    facts = case.get("facts", {})
    convert: dict[str, Any] = dict(CONVERT)

    def read(fact: type, service: str, sql: Any = None) -> Any:
        value = facts[f"{fact.__name__}/{service}"]
        if isinstance(value, dict) and "unreadable" in value:
            raise Unreadable(fact.__name__, service, [value["unreadable"]])
        return convert.get(fact.__name__, lambda v: v)(value)

    def missing(service: str, files: list, upsert: bool = False) -> dict:
        found = facts["seed/target"]
        counts = {f.filename: found.get("missing", {}).get(f.filename, [0, 0]) for f in files}
        return {
            "absent": found.get("absent", []),
            "tables": {
                f.filename: SeedCount(f.table, counts[f.filename][0], counts[f.filename][1], "(1)") for f in files
            },
        }

    monkeypatch.setattr("tasks.plan.build.remember", lambda service, key, compute, schema_only=False: compute())
    monkeypatch.setattr("tasks.plan.build.read", read)
    monkeypatch.setattr("tasks.plan.risk.read", read)
    monkeypatch.setattr("tasks.data.seed_load.missing", missing)
    module_name, op_name = case["operation"].split(".")
    module = importlib.import_module(f"tasks.operations.{module_name}")
    if hasattr(module, "read"):
        monkeypatch.setattr(module, "read", read)
    monkeypatch.setattr(summary, "_summaries", {None: summary.Summary(planned=[NAME])})
    inputs = case.get("plan", {})
    files = migrations(case.get("migrations", {}), tmp_path / "migrations")
    if files is not MIGRATIONS:  # the history names the files by name: those of the case
        convert["MigrationHistory"] = lambda recorded: history(recorded, files)
    plan = Planner(
        files,
        SEEDS if inputs.get("seeds", True) else [],
        inputs.get("baseline_version"),
        inputs.get("seed_upsert", False),
        inputs.get("copy", False),
        inputs.get("copy_replace", False),
        state_dir=str(tmp_path / "state"),
        risk_table_mb=inputs.get("risk_table_mb", 100.0),
        risk_fail_on=inputs.get("risk_fail_on", "high"),
    )
    if "heroku" in inputs:  # the app as the run read it at its start
        plan.heroku_app = heroku_app(inputs["heroku"])
    if "expected" in case:  # the proof ran before: its expected schema (and the seed files' proof) kept
        from tasks.migrations import expected

        folder = tmp_path / "state"
        expected.save_expected(folder, MIGRATIONS, case["expected"], "17.0")
        expected.mark_seeds_proven(folder, expected.seed_key(MIGRATIONS, [(f.filename, f.text) for f in plan.seeds]))
        if case.get("observed", True):  # what the proof saw each file do (its locks and rewrites), kept with it
            from tasks.risk import observe

            observe.save(folder, observe.Observer(seen={m.checksum: [] for m in MIGRATIONS}))
    args = {
        key: (str(tmp_path / value[len("tmp:") :]) if isinstance(value, str) and value.startswith("tmp:") else value)
        for key, value in case.get("args", {}).items()
    }
    host, state = FakeHost(), FakeState(is_executing=not case["planning"])
    with ctx_state.use(state), ctx_host.use(host):
        commands = list(getattr(module, op_name)._inner(plan=plan, **args))
    found = summary.current()
    if NAME in found.rows:
        row = found.rows[NAME]
        return Outcome(row.status, row.detail, host.logged)
    if NAME in found.will_check:
        return Outcome("will check", found.will_check[NAME], host.logged)
    if NAME in found.checked:
        return Outcome("converged", found.checked[NAME], host.logged)
    assert commands and all(isinstance(c, FunctionCommand) for c in commands), (commands, host.logged)
    return Outcome("would change", "", host.logged)


def check(path: Path, monkeypatch: Any, tmp_path: Path) -> None:
    """One recorded case: the operation's outcome (status, detail, a line shown) is the one it expects."""
    case = load(path)
    outcome = run_case(case, monkeypatch, tmp_path)
    want = case["expect"]
    assert outcome.status == want["status"], (outcome, want)
    assert want.get("detail", "") in outcome.detail, (outcome, want)
    assert any(want.get("shown", "") in line for line in outcome.shown or [""]), (outcome, want)
