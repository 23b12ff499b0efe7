"""
A setting's name misspelt by one letter stops the run, naming both (issue 31 item 3); other unknown
keys of ENV_FILE are kept as data for the summary. Pure (no database).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tasks.core.settings import SettingsError, load_settings
from tasks.core.spelling import one_edit_apart
from tasks.core.urls import parse_database_url

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



GOOD_TARGET = "postgres://app:s3cret@db.example.com:5432/app"


def settings(tmp_path, **env):
    (tmp_path / "files" / "migrations").mkdir(parents=True, exist_ok=True)
    return load_settings(environ=env, cwd=tmp_path)


def test_defaults(tmp_path):
    s = settings(tmp_path, TARGET_DATABASE_URL=GOOD_TARGET)
    assert s.source.redacted == "postgres://postgres:***@localhost:5432/whynot"
    assert s.target.sslmode == "require" and s.data_migration == "fresh"
    assert s.migrations_dir == tmp_path / "files" / "migrations"


@pytest.mark.parametrize(
    "env, variable, words",
    [
        ({}, "TARGET_DATABASE_URL", "no target set"),
        ({"TARGET_DATABASE_URL": "mysql://a:b@h/db"}, "TARGET_DATABASE_URL", "postgres://"),
        ({"TARGET_DATABASE_URL": "postgres://a:b@h:99999/db"}, "TARGET_DATABASE_URL", "malformed"),
        ({"TARGET_DATABASE_URL": "postgres://a:b@h:5432/"}, "TARGET_DATABASE_URL", "no database name"),
        (
            {"TARGET_DATABASE_URL": "postgres://a:b@db.example.com/db?sslmode=disable"},
            "TARGET_DATABASE_URL",
            "sslmode=require",
        ),
        ({"TARGET_DATABASE_URL": "postgres://a:b@h/db?sslmod=require"}, "TARGET_DATABASE_URL", "unknown URL parameter"),
        ({"TARGET_DATABASE_URL": GOOD_TARGET, "SOURCE_DATABASE_URL": "nonsense"}, "SOURCE_DATABASE_URL", "postgres://"),
        ({"TARGET_DATABASE_URL": GOOD_TARGET, "DATA_MIGRATION": "copy-all"}, "DATA_MIGRATION", "fresh, copy"),
        ({"TARGET_DATABASE_URL": GOOD_TARGET, "MIGRATIONS_DIR": "nowhere"}, "MIGRATIONS_DIR", "does not exist"),
        (
            {"TARGET_DATABASE_URL": GOOD_TARGET, "SEED_DIR": "/nonexistent"},
            "SEED_DIR",
            "does not exist",
        ),  # adversary 16/6
        ({"TARGET_DATABASE_URL": GOOD_TARGET, "BASELINE_VERSION": "four"}, "BASELINE_VERSION", "whole number"),
        (
            {"TARGET_DATABASE_URL": GOOD_TARGET, "MIGRATION_LOCK_TIMEOUT": "forever"},
            "MIGRATION_LOCK_TIMEOUT",
            "duration",
        ),
        ({"HEROKU_APP": "My App!"}, "HEROKU_APP", "not a Heroku app name"),
        ({"TARGET_DATABASE_URL": GOOD_TARGET, "ALLOW_EXTRA_OBJECTS": "maybe"}, "ALLOW_EXTRA_OBJECTS", "true or false"),
        (
            {"TARGET_DATABASE_URL": "postgres://postgres:x@localhost:5432/whynot"},
            "TARGET_DATABASE_URL",
            "same database",
        ),
        ({"HEROKU_APP": "my-app", "DB_POOL_MAX_VALUE": "0"}, "DB_POOL_MAX_VALUE", "at least 1"),
        ({"HEROKU_APP": "my-app", "DB_POOL_RESERVE": "-3"}, "DB_POOL_RESERVE", "whole number"),
        ({"HEROKU_APP": "my-app", "DB_POOL_VAR": "DB POOL"}, "DB_POOL_VAR", "config var name"),
        ({"HEROKU_APP": "my-app", "IGNORE_LOG_ERRORS": "sometimes"}, "IGNORE_LOG_ERRORS", "true or false"),
        (
            {"TARGET_DATABASE_URL": GOOD_TARGET, "BACKUP_KEEP": "99999999999999999999999"},
            "BACKUP_KEEP",
            "from 1 to 10000",
        ),
        ({"TARGET_DATABASE_URL": GOOD_TARGET, "BACKUP_KEEP": "\u00b2"}, "BACKUP_KEEP", "from 1 to 10000"),
        ({"TARGET_DATABASE_URL": GOOD_TARGET, "BASELINE_VERSION": "\uff14"}, "BASELINE_VERSION", "whole number"),
        (
            {"TARGET_DATABASE_URL": GOOD_TARGET, "LOCK_RETRY_S": "99999999999"},
            "LOCK_RETRY_S",
            "set at most LOCK_RETRY_S=3600",
        ),
        (
            {"TARGET_DATABASE_URL": GOOD_TARGET, "MIGRATION_STATEMENT_TIMEOUT": "0.0001ms"},
            "MIGRATION_STATEMENT_TIMEOUT",
            "would mean no limit at all: set at least 1ms, or 0 for none",
        ),
    ],
)
def test_bad_settings(tmp_path, env, variable, words):
    with pytest.raises(SettingsError) as raised:
        settings(tmp_path, **env)
    message = str(raised.value)
    assert message.startswith(f"{variable}:") and words in message
    assert "\n" not in message and "s3cret" not in message and ":b@" not in message


def test_env_file_and_real_environment_wins(tmp_path):
    (tmp_path / "custom.env").write_text(f"TARGET_DATABASE_URL={GOOD_TARGET}\nDATA_MIGRATION=copy\n")
    s = settings(tmp_path, ENV_FILE="custom.env", DATA_MIGRATION="fresh")
    assert s.target.host == "db.example.com" and s.data_migration == "fresh"
    with pytest.raises(SettingsError, match="ENV_FILE: missing.env does not exist"):
        settings(tmp_path, ENV_FILE="missing.env")
    (tmp_path / "folder").mkdir()  # adversary finding: a folder was said not to exist
    with pytest.raises(SettingsError, match="ENV_FILE: folder is a folder, not a file"):
        settings(tmp_path, ENV_FILE="folder")


def test_dot_env_is_read_by_default(tmp_path):
    (tmp_path / ".env").write_text(f"TARGET_DATABASE_URL={GOOD_TARGET}\n")
    assert settings(tmp_path).target.dbname == "app"


def test_url_redaction_and_service_params():
    url = parse_database_url("postgresql://u%40x:p%3Aw@127.0.0.1:6543/d?sslmode=require")
    assert url.redacted == "postgres://u@x:***@127.0.0.1:6543/d"
    params = url.service_params()
    assert params["password"] == "p:w" and params["sslmode"] == "require" and params["user"] == "u@x"
    assert parse_database_url("postgres://u@localhost/d").sslmode == "prefer"


def test_a_url_never_shows_its_password_in_a_repr():
    url = parse_database_url("postgres://app:hunter2secret@db.example.com/app")
    assert "hunter2secret" not in repr(url) and "hunter2secret" not in url.redacted


def test_heroku_settings(tmp_path):
    s = settings(tmp_path, HEROKU_APP="my-app", DB_POOL_MAX_VALUE="8")
    assert (s.heroku_app, s.target, s.pool_var, s.pool_value, s.pool_reserve) == ("my-app", None, "DB_POOL_MAX", 8, 10)
    assert "require('./dist/db').pool.query('SELECT NOW()')" in s.app_check_command
    assert settings(tmp_path, HEROKU_APP="my-app", APP_DB_CHECK_COMMAND="").app_check_command == ""


def test_the_default_seed_folder_may_be_missing_and_named_ones_are_accepted(tmp_path):
    """Adversary 16/6: only a SEED_DIR set to another folder must exist (the default is optional)."""
    assert settings(tmp_path, TARGET_DATABASE_URL=GOOD_TARGET).seed_dir == tmp_path / "files" / "seed"
    assert (
        settings(tmp_path, TARGET_DATABASE_URL=GOOD_TARGET, SEED_DIR="files/seed").seed_dir
        == tmp_path / "files" / "seed"
    )
    (tmp_path / "mine").mkdir()
    assert settings(tmp_path, TARGET_DATABASE_URL=GOOD_TARGET, SEED_DIR="mine").seed_dir == tmp_path / "mine"


def test_a_garbage_line_or_an_unknown_key_in_env_file_is_noted(tmp_path):
    """Issue 31 item 3 changed this: a misspelt key now stops the run (tests/unit/core/test_settings.py)."""
    (tmp_path / "my.env").write_text("garbage\nUNRELATED_THING=1\n")
    s = settings(tmp_path, TARGET_DATABASE_URL=GOOD_TARGET, ENV_FILE=str(tmp_path / "my.env"))
    assert s.data_migration == "fresh"
    assert s.notes == (
        "ENV_FILE: the line 'garbage' is not KEY=value: it is ignored",
        "ENV_FILE: UNRELATED_THING is not a setting: ignored",
    )
    assert s.unknown_keys == ("UNRELATED_THING",)


def test_dry_with_yes_is_refused_because_pyinfra_would_plan_nothing():
    """Adversary 14.3: ``pyinfra -y --dry`` skips change detection: it planned nothing and exited 0."""
    from tasks.run import refuse_dry_with_yes

    for argv, environ in (
        (["-y", "--dry", "inventory.py", "deploy.py"], {}),
        (["--dry", "inventory.py", "deploy.py"], {"PYINFRA_YES": "true"}),
    ):
        with pytest.raises(SettingsError, match="--dry with -y"):
            refuse_dry_with_yes(argv, environ)
    refuse_dry_with_yes(["--dry", "inventory.py", "deploy.py"], {})
    refuse_dry_with_yes(["-y", "inventory.py", "deploy.py"], {})


@pytest.mark.parametrize("key", ["HEROKU_CLI_TIMEOUT", "HEROKU_LOG_WINDOW"])
@pytest.mark.parametrize("value", ["abc", "-1", "0"])
def test_heroku_timeouts_are_checked_not_silently_replaced(key, value):
    """Adversary 14.5: an invalid value fell back to the default without a word."""
    with pytest.raises(SettingsError, match=f"^{key}:"):
        load_settings({"TARGET_DATABASE_URL": GOOD_TARGET, key: value})
    assert (
        getattr(
            load_settings({"TARGET_DATABASE_URL": GOOD_TARGET, key: "7.5"}),
            "heroku_cli_timeout_s" if key == "HEROKU_CLI_TIMEOUT" else "heroku_log_window_s",
        )
        == 7.5
    )


@pytest.mark.parametrize("value", ["0", "5s", "500ms", "2min", "24d", "2147483647", "2147483.647s"])
def test_timeouts_within_postgresql_range_are_accepted(tmp_path, value):
    assert settings(tmp_path, TARGET_DATABASE_URL=GOOD_TARGET, MIGRATION_LOCK_TIMEOUT=value).lock_timeout == value


@pytest.mark.parametrize("value", ["99999999999", "25d", "2147483648", "600h"])
def test_timeouts_beyond_postgresql_range_blame_the_setting(tmp_path, value):
    with pytest.raises(SettingsError, match="MIGRATION_LOCK_TIMEOUT: .* is beyond PostgreSQL's limit"):
        settings(tmp_path, TARGET_DATABASE_URL=GOOD_TARGET, MIGRATION_LOCK_TIMEOUT=value)


def test_a_baseline_beyond_bigint_is_refused(tmp_path):
    with pytest.raises(SettingsError, match="BASELINE_VERSION"):
        settings(tmp_path, TARGET_DATABASE_URL=GOOD_TARGET, BASELINE_VERSION="9" * 20)


@pytest.mark.parametrize("where", ["file", "environment"])
@given(
    key=st.sampled_from(["DATA_MIGRATION", "BACKUP_KEEP", "SEED_DIR", "REPORT_DIR"])
    .flatmap(
        lambda name: st.lists(st.booleans(), min_size=len(name), max_size=len(name)).map(
            lambda lower: "".join(c.lower() if low else c for c, low in zip(name, lower))
        )
    )
    .filter(lambda key: key != key.upper())
)
@hsettings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_setting_spelt_in_another_case_stops_the_run(tmp_path, where, key):
    """Tester: ``data_migration=copy`` in .env or the shell was ignored (no edit away, yet not the setting)."""
    with pytest.raises(SettingsError) as caught:
        if where == "file":
            load(tmp_path, f"{key}=copy\n")
        else:
            load(tmp_path, **{key: "copy"})
    assert str(caught.value).startswith(f"{key}: not a setting, it differs from {key.upper()} only in case")


def test_a_key_given_twice_in_the_env_file_stops_the_run_naming_both_lines(tmp_path):
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, "BACKUP_KEEP=3\n# a comment\nDATA_MIGRATION=copy\nBACKUP_KEEP=5\n")
    assert "ENV_FILE: BACKUP_KEEP is given twice" in str(caught.value) and "lines 1 and 4" in str(caught.value)


def test_an_env_file_that_is_a_fifo_is_refused_never_waited_on(tmp_path):
    import os

    (tmp_path / "files" / "migrations").mkdir(parents=True, exist_ok=True)
    os.mkfifo(tmp_path / "fifo.env")
    with pytest.raises(SettingsError, match="is not a regular file"):
        load_settings({"TARGET_DATABASE_URL": TARGET, "ENV_FILE": str(tmp_path / "fifo.env")}, tmp_path)


def test_dry_with_yes_names_the_script_that_was_run():
    """The tester: ``restore.py --dry -y`` was told to run deploy.py."""
    from tasks.run import refuse_dry_with_yes

    with pytest.raises(SettingsError, match="run pyinfra inventory.py restore.py --dry without -y"):
        refuse_dry_with_yes(["-y", "--dry", "inventory.py", "restore.py"], {})
