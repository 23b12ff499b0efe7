"""Which environments a run knows, and each one's settings (pure: files in a temporary folder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.core.settings import SettingsError
from tasks.environments.discover import (
    environment_files,
    limits,
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
    assert service_names("staging") == ("staging_source", "staging_target") and service_names(None) == (
        "source",
        "target",
    )


@pytest.mark.parametrize(
    "files, message",
    [
        ({"Staging.env": "TARGET_DATABASE_URL=postgresql://u:p@s.example/a\n"}, "rename the file"),
        (
            {"production.env": "TARGET_DATABASE_URL=postgresql://u:p@s.example/a\nPROMOTE_FROM=staging\n"},
            "PROMOTE_FROM=staging names no file",
        ),
        (
            {"production.env": "TARGET_DATABASE_URL=postgresql://u:p@s.example/a\nPROMOTE_FROM=production\n"},
            "names the environment itself",
        ),
        ({"qa.env": "DATA_MIGRATION=sideways\n"}, "environment qa (qa.env): "),
        (
            {"qa.env": "TARGET_DATABASE_URL=postgresql://u:p@s.example/a\nPROMOTE_FROM=Staging!\n"},
            "PROMOTE_FROM: 'Staging!' is not an environment name",
        ),
    ],
)
def test_a_bad_environment_stops_the_run_with_one_line_naming_it(tmp_path, files, message):
    setup(tmp_path, files)
    with pytest.raises(SettingsError) as caught:
        load_environments({**BASE, "TARGET_DATABASE_URL": "postgresql://u:p@x.example/t"}, tmp_path)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_environments_dir_that_is_missing_is_refused_an_absent_default_is_not(tmp_path):
    assert environment_files({}, tmp_path) == {}
    with pytest.raises(SettingsError, match="ENVIRONMENTS_DIR: nope is not a folder"):
        environment_files({"ENVIRONMENTS_DIR": "nope"}, tmp_path)


GOOD = "TARGET_DATABASE_URL=postgresql://u:p@g.example/a\n"


def test_a_limit_that_names_no_environment_is_refused_listing_them(tmp_path):
    setup(tmp_path, {"good.env": GOOD, "other.env": "TARGET_DATABASE_URL=postgresql://u:p@o.example/b\n"})
    with pytest.raises(SettingsError, match=r"--limit nosuch: no environment of that name: use one of good, other"):
        load_environments(BASE, tmp_path, ["nosuch"])
    assert list(load_environments(BASE, tmp_path, ["@pgenv/good"])) == ["good"]
    assert limits(["-y", "--limit", "a,b", "--limit=c", "inventory.py"]) == ["a", "b", "c"]
    assert limits(["inventory.py", "deploy.py"]) is None


def test_a_reserved_group_name_is_refused(tmp_path):
    setup(tmp_path, {"all.env": GOOD})
    with pytest.raises(SettingsError, match="all is a name pyinfra's inventory reserves"):
        load_environments(BASE, tmp_path)


def test_with_a_limit_another_environments_bad_settings_are_a_note(tmp_path):
    setup(tmp_path, {"good.env": GOOD, "bad.env": GOOD + "DATA_MIGRATION=cpy\n"})
    loaded = load_environments(BASE, tmp_path, ["good"])
    assert list(loaded) == ["good"]
    assert any("environment bad (bad.env) is not valid and was left out" in note for note in loaded["good"].notes)
    with pytest.raises(SettingsError, match="environment bad"):
        load_environments(BASE, tmp_path, ["bad"])


def test_a_promote_from_cycle_is_refused(tmp_path):
    setup(
        tmp_path,
        {
            "aa.env": GOOD + "PROMOTE_FROM=bb\n",
            "bb.env": "TARGET_DATABASE_URL=postgresql://u:p@b.example/b\nPROMOTE_FROM=aa\n",
        },
    )
    with pytest.raises(SettingsError, match="PROMOTE_FROM makes a cycle"):
        load_environments(BASE, tmp_path)
