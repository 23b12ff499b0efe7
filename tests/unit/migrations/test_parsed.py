"""
A file's split kept after a proof (tasks.migrations.parsed) gives back exactly what PostgreSQL's
parser gives (hypothesis over files with every quoting, and the project's own migrations and a
no-transaction file); a damaged, foreign or older entry is never used.
"""

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tasks.migrations import parsed
from tasks.migrations.files import read_migrations
from tests.sqlgen import sql_file

ROOT = Path(__file__).resolve().parents[3]
EXTRA = {
    "005_search_path.sql": "SET search_path TO audit;\nCREATE TABLE log (id int);\nCREATE SCHEMA audit2;\n"
    "CREATE VIEW public.v AS SELECT 1 AS one;\n",
    "006_index.sql": (
        "-- pgconverge:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS users_name ON users (display_name);\n"
    ),
}


@pytest.fixture(autouse=True)
def no_kept_folder_after():
    yield
    parsed.keep_in.__globals__["_folder"] = None  # other tests split their files afresh


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def attach(state: Path, migrations) -> int:
    """Point the files at the kept splits of ``state`` and use them now: how many had one."""
    parsed.keep_in(state)
    return sum(1 for migration in migrations if migration.statements and migration.__dict__.get("proven"))


def _seen(migration):
    return (
        [(s.text, s.line, s.offset, s.kind) for s in migration.statements],
        migration.needs,
        migration.concurrent_indexes,
    )


def _kept_and_read_again(folder: Path, state: Path):
    fresh = read_migrations(folder)
    parsed.save(state, fresh)
    again = read_migrations(folder, check=False)
    assert attach(state, again) == len(again)
    return fresh, again


def test_the_project_migrations_and_odd_files_come_back_as_the_parser_split_them(tmp_path):
    files = {p.name: p.read_text() for p in (ROOT / "files" / "migrations").glob("*.sql")} | EXTRA
    fresh, again = _kept_and_read_again(_folder(tmp_path, files), tmp_path / "state")
    assert [_seen(m) for m in again] == [_seen(m) for m in fresh]
    by_name = {m.filename: m for m in again}
    assert by_name["005_search_path.sql"].needs == (("audit", None), (None, "audit2"), ("public", None))
    assert by_name["006_index.sql"].concurrent_indexes == ("users_name",)
    assert all(m.__dict__.get("proven") for m in again)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(example=sql_file())
def test_any_file_kept_comes_back_statement_for_statement(tmp_path_factory, example):
    text, _ = example
    tmp = tmp_path_factory.mktemp("kept")
    fresh, again = _kept_and_read_again(_folder(tmp, {"001_generated.sql": text}), tmp / "state")
    assert _seen(again[0]) == _seen(fresh[0])


def test_a_damaged_foreign_or_older_entry_is_split_again(tmp_path):
    files = EXTRA | {"007_two.sql": "CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n"}
    folder = _folder(tmp_path, files)
    state = tmp_path / "state"
    parsed.save(state, read_migrations(folder))
    entries = {json.loads(p.read_text())["file"]: p for p in (state / "parsed").glob("*.json")}
    entries["005_search_path.sql"].write_text("{not json")
    kept = json.loads(entries["006_index.sql"].read_text())
    entries["006_index.sql"].write_text(json.dumps({**kept, "key": "checks 1, pglast 0"}))
    kept = json.loads(entries["007_two.sql"].read_text())
    (first, end, line, kind), second = kept["statements"]
    entries["007_two.sql"].write_text(json.dumps({**kept, "statements": [[first, end + 30, line, kind], second]}))
    again = read_migrations(folder, check=False)
    assert attach(state, again) == 0
    assert not any(m.__dict__.get("proven") for m in again)
    assert [len(m.statements) for m in again] == [4, 1, 2]  # split by the parser
