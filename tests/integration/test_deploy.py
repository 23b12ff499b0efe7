"""
The whole deploy through the pyinfra CLI (``pyinfra -y --json inventory.py deploy.py``) against the
sandbox's two real PostgreSQL clusters: first run converges, second run changes nothing.
"""

import re

import pytest

from tests.support import catalog_and_data, query

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters


def test_first_run_creates_tables_and_seed_then_second_run_changes_nothing(project):
    first = project.deploy()
    assert first.code == 0, first.output[-3000:]
    assert first.changed() == ["Migrations proven locally", "Source backup captured", "Target backup captured",
                               "Migrations applied", "Seed present"]
    assert project.tables() == ["messages", "room_participants", "rooms", "users"]
    assert project.applied_versions() == [1, 2, 3, 4]
    assert query(project.target_db, "SELECT email FROM users ORDER BY id") == [("system@whynot.chat",)]
    assert query(project.target_db, "SELECT slug FROM rooms ORDER BY id") == [("general",), ("random",)]
    # The sequence behind the seeded ids was advanced: a new row does not collide with id 1.
    query(project.target_db, "INSERT INTO users (email, display_name) VALUES ('new@x', 'New')")

    second = project.deploy()
    assert second.code == 0, second.output[-3000:]
    assert second.changed() == []
    assert set(second.operations().values()) == {"no_change"}


def test_dry_run_lists_pending_files_and_changes_nothing(project):
    before = catalog_and_data(project.target_db)
    dry = project.dry()
    assert dry.code == 0, dry.output[-3000:]
    for name in ("001_create_users.sql", "004_create_messages.sql"):
        assert re.search(rf"apply {name} \(\d+ statements\)", dry.output), dry.output
    assert "CREATE TABLE users" not in dry.output
    assert catalog_and_data(project.target_db) == before

    with_sql = project.dry("--diff")
    assert "CREATE TABLE users" in with_sql.output

    assert project.deploy().code == 0
    converged = project.dry("--diff")
    assert converged.code == 0
    assert "apply " not in converged.output and "insert " not in converged.output


def test_seed_rows_removed_by_hand_are_inserted_again_and_others_left_alone(project):
    assert project.deploy().code == 0
    query(project.target_db, "UPDATE rooms SET name = 'Renamed' WHERE slug = 'general'")
    query(project.target_db, "DELETE FROM rooms WHERE slug = 'random'")
    again = project.deploy()
    assert again.changed() == ["Target backup captured", "Seed present"]
    assert query(project.target_db, "SELECT slug, name FROM rooms ORDER BY id") == [
        ("general", "Renamed"),
        ("random", "Random"),
    ]
