"""
A setting's name misspelt by one letter stops the run, naming both (issue 31 item 3); other unknown
keys of ENV_FILE are kept as data for the summary. Pure (no database).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from tasks.core.settings import SettingsError, load_settings, one_edit_apart

TARGET = "postgres://app:s3cret@db.example.com:5432/app"


def load(tmp_path, text: str = "", **env: str):
    (tmp_path / "files" / "migrations").mkdir(parents=True, exist_ok=True)
    (tmp_path / "my.env").write_text(text)
    return load_settings({"TARGET_DATABASE_URL": TARGET, "ENV_FILE": str(tmp_path / "my.env"), **env}, tmp_path)


@pytest.mark.parametrize("key, name", [("DATA_MIGRATON", "DATA_MIGRATION"), ("DATA_MIGRATOIN", "DATA_MIGRATION"),
                                       ("BACKUP_KEPE", "BACKUP_KEEP"), ("SEED_DIRS", "SEED_DIR"),
                                       ("HEROKU_APPP", "HEROKU_APP"), ("TARGET_DATABSE_URL", "TARGET_DATABASE_URL")])
@pytest.mark.parametrize("where", ["file", "environment"])
def test_a_misspelt_setting_stops_the_run_naming_both(tmp_path, key, name, where):
    with pytest.raises(SettingsError) as caught:
        if where == "file":
            load(tmp_path, f"{key}=copy\n")
        else:
            load(tmp_path, **{key: "copy"})
    assert str(caught.value).startswith(f"{key}: not a setting, but one letter off {name}: rename it {name}")
    assert "nothing was touched" in str(caught.value)


def test_other_unknown_keys_are_listed_as_data(tmp_path):
    found = load(tmp_path, "APP_SECRET_THING=1\nMY_FLAG=yes\nDATA_MIGRATION=copy\n")
    assert found.unknown_keys == ("APP_SECRET_THING", "MY_FLAG")
    assert found.data_migration == "copy"
    assert "ENV_FILE: APP_SECRET_THING, MY_FLAG are not settings: ignored" in found.notes


def test_settings_read_on_other_paths_are_not_misspellings(tmp_path):
    """HEROKU_APP set: TARGET_DATABASE_URL is not read, but it is a setting, not a misspelling or unknown."""
    found = load(tmp_path, "TARGET_DATABASE_URL=\n", HEROKU_APP="my-app")
    assert found.unknown_keys == ()


NAMES = st.sampled_from(["DATA_MIGRATION", "BACKUP_KEEP", "MIGRATIONS_DIR", "COPY_CONFLICT", "HEALTH_FAIL_ON"])


@hsettings(max_examples=200, deadline=None)
@given(name=NAMES, where=st.integers(0, 20), letter=st.sampled_from("ABCXYZ_"), kind=st.sampled_from("idrs"))
def test_every_one_edit_variant_is_one_edit_apart(name, where, letter, kind):
    i = where % len(name)
    variant = {"i": name[:i] + letter + name[i:], "d": name[:i] + name[i + 1:], "r": name[:i] + letter + name[i + 1:],
               "s": name[:i] + name[i + 1:i + 2] + name[i:i + 1] + name[i + 2:]}[kind]
    assert one_edit_apart(variant, name) == (variant != name)
