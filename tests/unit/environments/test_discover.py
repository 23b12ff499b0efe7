"""Which environments a run knows, and each one's settings (pure: files in a temporary folder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.core.settings import SettingsError
from tasks.environments.discover import (
    environment_files,
    load_environments,
    service_names,
)

BASE = {"SOURCE_DATABASE_URL": "postgresql://u:p@localhost:5432/app", "MIGRATIONS_DIR": "m"}


def setup(tmp_path: Path, files: dict[str, str]) -> Path:
    (tmp_path / "m").mkdir()
    folder = tmp_path / "environments"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_without_the_folder_the_run_has_one_target_from_dotenv(tmp_path):
    (tmp_path / "m").mkdir()
    loaded = load_environments({**BASE, "TARGET_DATABASE_URL": "postgresql://u:p@db.example/t"}, tmp_path)
    assert list(loaded) == [None] and loaded[None].environment is None


def test_each_file_is_an_environment_with_its_own_folders_and_its_values_win(tmp_path):
    setup(tmp_path, {"staging.env": "TARGET_DATABASE_URL=postgresql://u:p@s.example/a\n",
                     "production.env": "TARGET_DATABASE_URL=postgresql://u:p@p.example/b\nPROMOTE_FROM=staging\n"
                                       "BACKUP_DIR=/srv/prod-backups\n"})
    environ = {**BASE, "TARGET_DATABASE_URL": "postgresql://u:p@shell.example/x", "STATE_DIR": "st"}
    loaded = load_environments(environ, tmp_path)
    assert list(loaded) == ["production", "staging"]
    staging, production = loaded["staging"], loaded["production"]
    assert staging.target.host == "s.example" and production.target.host == "p.example"  # the file wins
    assert staging.state_dir == tmp_path / "st" / "staging" and staging.report_dir == tmp_path / "reports" / "staging"
    assert production.backup_dir == Path("/srv/prod-backups")  # set by the file: as written
    assert staging.plans_dir == production.plans_dir == tmp_path / "plans"  # shared: production reads staging's
    assert production.promote_from == "staging" and staging.promote_from is None
    assert service_names("staging") == ("staging_source", "staging_target") and service_names(None) == ("source", "target")


@pytest.mark.parametrize("files, message", [
    ({"Staging.env": "TARGET_DATABASE_URL=postgresql://u:p@s.example/a\n"}, "rename the file"),
    ({"production.env": "TARGET_DATABASE_URL=postgresql://u:p@s.example/a\nPROMOTE_FROM=staging\n"},
     "PROMOTE_FROM=staging names no file"),
    ({"production.env": "TARGET_DATABASE_URL=postgresql://u:p@s.example/a\nPROMOTE_FROM=production\n"},
     "names the environment itself"),
    ({"qa.env": "DATA_MIGRATION=sideways\n"}, "environment qa (qa.env): "),
    ({"qa.env": "TARGET_DATABASE_URL=postgresql://u:p@s.example/a\nPROMOTE_FROM=Staging!\n"},
     "PROMOTE_FROM: 'Staging!' is not an environment name"),
])
def test_a_bad_environment_stops_the_run_with_one_line_naming_it(tmp_path, files, message):
    setup(tmp_path, files)
    with pytest.raises(SettingsError) as caught:
        load_environments({**BASE, "TARGET_DATABASE_URL": "postgresql://u:p@x.example/t"}, tmp_path)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_environments_dir_that_is_missing_is_refused_an_absent_default_is_not(tmp_path):
    assert environment_files({}, tmp_path) == {}
    with pytest.raises(SettingsError, match="ENVIRONMENTS_DIR: nope is not a folder"):
        environment_files({"ENVIRONMENTS_DIR": "nope"}, tmp_path)
