"""
Seed present through the real pyinfra CLI against the sandbox target: rows inserted once, edited
rows kept (or updated with SEED_MODE=upsert), and every bad seed file refused with its file and
line named while the target stays unchanged.
"""

import shutil

import pytest

from tests.support import SEEDS, catalog_and_data, query

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters


@pytest.fixture
def seeds(project):
    folder = project.tmp / "seed"
    shutil.copytree(SEEDS, folder)
    project.seeds = folder
    return folder


def test_edited_row_is_kept_then_updated_with_upsert(project, seeds):
    assert project.deploy().code == 0
    query(project.target_db, "UPDATE rooms SET name = 'Lobby' WHERE slug = 'general'")
    kept = project.deploy()
    assert kept.changed() == []
    assert query(project.target_db, "SELECT name FROM rooms WHERE id = 1") == [("Lobby",)]

    dry = project.dry(SEED_MODE="upsert")
    assert "insert 0 missing row(s), update 1 differing row(s) of rooms.csv (first ten keys: (1))" in dry.output
    updated = project.deploy(SEED_MODE="upsert")
    assert "Seed present" in updated.changed()
    assert query(project.target_db, "SELECT name FROM rooms WHERE id = 1") == [("General",)]
    assert project.deploy(SEED_MODE="upsert").changed() == []


def test_dry_run_lists_the_first_ten_keys_and_a_count(project, seeds):
    (seeds / "users.csv").write_text("id,email,display_name\n" + "".join(f"{i},u{i}@x,U{i}\n" for i in range(1, 16)))
    assert project.deploy().code == 0
    query(project.target_db, "DELETE FROM room_participants; DELETE FROM rooms; DELETE FROM users WHERE id > 1")
    dry = project.dry()
    assert (
        "insert 14 missing row(s) of users.csv (first ten keys: (2) (3) (4) (5) (6) (7) (8) (9) (10) (11))"
        in dry.output
    )


@pytest.mark.parametrize(
    "file, text, words",
    [
        (
            "users.csv",
            "id,email,display_name\n1,system@whynot.chat,whynot\nabc,x@y,X\n",
            "seed file users.csv line 3, column id: invalid input syntax for type bigint",
        ),
        ("users.csv", "id,email,nickname\n1,a@x,A\n", 'seed file users.csv: column "nickname" does not exist'),
        (  # no pending migration makes it: refused before the proof
            "topics.csv",
            "id,name\n1,general\n",
            "seed file topics.csv: table public.topics does not exist in the target and no pending migration makes it",
        ),
        ("users.csv", "email,display_name\na@x,A\n", "seed file users.csv: the header lacks primary-key column(s) id"),
        ("rooms.csv", "id,slug,name,created_by\n7,lobby,Lobby,999\n", "violates foreign key constraint"),
        ("users.csv", "id,email,display_name\n1,a@x\n", "seed file users.csv line 2: 2 fields, the header has 3"),
    ],
)
def test_bad_seed_files_are_refused_and_nothing_changes(project, seeds, file, text, words):
    assert project.deploy().code == 0
    (seeds / file).write_text(text)
    before = catalog_and_data(project.target_db)
    result = project.deploy()
    assert result.code != 0
    assert words in result.output, result.output[-2500:]
    assert "Traceback" not in result.output
    assert catalog_and_data(project.target_db) == before
