"""tasks/backups/restore_request.py: which backup a restore asks for, and every refusal before the
target is touched (files on disk, no database: the backups of an empty target are their manifest)."""

from pathlib import Path

import pytest

from tasks.backups import empty, restore_request, store

LABEL = "postgres://app:***@db.example.com:5432/app"
STATE = {"database": "app", "server_version": "17.0", "catalog": {"tables": {}}, "identity": None}


def empty_backup(folder: Path, database: str = "app", now: float = 1.7e9) -> Path:
    path = store.empty_backup_path(folder, database, now)
    store.write_json(path, empty.manifest({**STATE, "database": database}, LABEL, None, 0.0))
    return path


def ask(folder: Path, backup: str, confirm: str | None = "app") -> restore_request.Request:
    ident = store.identity(LABEL, "app")
    return restore_request.local("target", backup, confirm, "app", LABEL, folder, ident)


def test_an_empty_targets_backup_confirmed_is_chosen_by_its_file_name(tmp_path):
    path = empty_backup(tmp_path)
    asked = ask(tmp_path, path.name)
    assert asked.problem is None and asked.dump == path and asked.manifest is not None
    assert store.is_empty_backup(asked.manifest)


@pytest.mark.parametrize(
    "backup, confirm, code",
    [
        ("nope.dump", "app", "backup-not-found"),
        (None, "wrong", "not-confirmed"),
        (None, None, "not-confirmed"),
    ],
)
def test_refusals_name_their_cause(tmp_path, backup, confirm, code):
    path = empty_backup(tmp_path)
    asked = ask(tmp_path, backup or path.name, confirm)
    assert asked.problem is not None and asked.problem.code == code and asked.dump is None


def test_a_backup_of_another_database_is_refused(tmp_path):
    path = empty_backup(tmp_path, database="other")
    asked = ask(tmp_path, str(path))
    assert asked.problem is not None and asked.problem.code == "backup-of-another-database"


def test_a_manifest_that_is_not_ours_is_refused(tmp_path):
    path = tmp_path / "app-x.dump"
    path.write_bytes(b"PGDMP")
    store.write_json(store.manifest_path(path), {"database": "app"})
    asked = ask(tmp_path, str(path))
    assert asked.problem is not None and asked.problem.code == "backup-unverified"


def heroku_manifest(folder: Path, backup: str) -> Path:
    return store.write_json(
        store.heroku_manifest_path(folder, "my-app", backup), {"verified": True, "rows": {}, "catalog": {}}
    )


@pytest.mark.parametrize(
    "backup, confirm, code",
    [("latest", "my-app", "not-a-backup-id"), ("b009", "my-app", "no-manifest"), ("b005", "app", "not-confirmed")],
)
def test_heroku_refusals(tmp_path, backup, confirm, code):
    heroku_manifest(tmp_path, "b005")
    asked = restore_request.heroku("my-app", backup, confirm, tmp_path)
    assert asked.problem is not None and asked.problem.code == code


def test_heroku_backup_with_its_manifest_confirmed_is_chosen(tmp_path):
    path = heroku_manifest(tmp_path, "b005")
    asked = restore_request.heroku("my-app", "b005", "my-app", tmp_path)
    assert asked.problem is None and asked.dump == path and asked.manifest == store.read_json(path)
