"""
Reading the Heroku CLI's output (pure). Samples in samples/: pg_info_essential.txt, backups_info.txt
and capture_stderr.txt as the real CLI 11.10 renders them (../shared/reference/heroku-cli-notes.md);
the error_*.txt and pg_info_no_database.txt samples were printed by the real CLI against the
tests' fake API; pg_info_standard.txt is built from the CLI's field list for a Standard plan
with two databases (no real Standard output could be recorded here).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tasks.heroku.app import database_url
from tasks.heroku.cli import HerokuError, explain_failure
from tasks.heroku.parse import (
    HerokuOutputError,
    backup_succeeded,
    database_errors,
    parse_backup_status,
    parse_capture_id,
    parse_cli_error,
    parse_config_get,
    parse_pg_info,
    parse_ps,
    parse_release,
)
from tasks.heroku.pool import PoolCheck, parse_pool_size

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> str:
    return (SAMPLES / name).read_text()


def test_pg_info_essential():
    info = parse_pg_info(sample("pg_info_essential.txt"))
    assert (info.plan, info.status, info.connections_used, info.connections_limit) == (
        "Essential 0",
        "Available",
        3,
        20,
    )
    assert info.pg_major == 16 and info.tables == "2/4000 (In compliance)" and info.addon == "postgresql-fake-123"
    assert "connections 3/20" in info.summary()


def test_pg_info_standard_reads_the_database_url_block():
    info = parse_pg_info(sample("pg_info_standard.txt"))
    assert (info.plan, info.connections_used, info.connections_limit, info.pg_version) == (
        "Standard 0",
        37,
        120,
        "17.2",
    )
    assert info.addon == "postgresql-curved-12345"


def test_pg_info_of_an_app_without_a_database_is_none():
    assert parse_pg_info(sample("pg_info_no_database.txt")) is None


def test_pg_info_without_a_plan_line_is_an_error():
    with pytest.raises(HerokuOutputError):
        parse_pg_info("=== DATABASE_URL\n\nStatus: Available\n")


def test_config_get_json_one_and_several_keys_and_missing():
    assert parse_config_get('{"key": "DATABASE_URL", "value": "postgres://u:p@h/d"}', ["DATABASE_URL"]) == {
        "DATABASE_URL": "postgres://u:p@h/d"
    }
    several = json.dumps(
        [{"key": "DATABASE_URL", "value": "postgres://u:p@h/d"}, {"key": "DB_POOL_MAX", "value": None}]
    )
    assert parse_config_get(several, ["DATABASE_URL", "DB_POOL_MAX"])["DB_POOL_MAX"] is None
    assert parse_config_get('{"key": "DATABASE_URL", "value": "  "}', ["DATABASE_URL"])["DATABASE_URL"] is None
    with pytest.raises(HerokuOutputError):
        parse_config_get("postgres://u:p@h/d\n", ["DATABASE_URL"])


def test_ps_counts_web_dynos_and_the_release():
    dynos = [
        {"type": "web", "release": {"version": 41}},
        {"type": "web", "release": {"version": 42}},
        {"type": "worker", "release": {"version": 42}},
    ]
    found = parse_ps(json.dumps(dynos))
    assert (found.web, found.release) == (2, 42)
    assert parse_ps("[]").web == 0


def test_ps_tells_a_fir_app_by_its_dyno_names_as_the_cli_does():
    """The CLI's own test (src/lib/apps/generation.ts): web.1 is Cedar, web-<hash>-<id> is Fir."""
    cedar = [{"type": "web", "name": "web.1", "release": {"version": 3}}]
    fir = [{"type": "web", "name": "web-7c9f8d6b4-x2k9p", "release": {"version": 3}}]
    assert parse_ps(json.dumps(cedar)).generation == "cedar" and parse_ps(json.dumps(fir)).generation == "fir"


def test_capture_id_is_read_from_stderr_and_status_from_info():
    assert parse_capture_id(sample("capture_stderr.txt")) == "b005"
    assert parse_capture_id("Starting backup... done\n") is None
    status = parse_backup_status(sample("backups_info.txt"))
    assert status == "Completed" and backup_succeeded(status)
    assert (
        backup_succeeded("Finished with 2 warnings") and not backup_succeeded("Failed") and not backup_succeeded(None)
    )
    assert parse_release("Setting DB_POOL_MAX and restarting my-app... done, v8\n") == 8


@pytest.mark.parametrize(
    "name, kind, words",
    [
        ("error_unknown_app.txt", "app", "Couldn't find that app."),
        ("error_401.txt", "auth", "HEROKU_API_KEY is invalid"),
        ("error_no_database.txt", "no-database", "has no databases"),
        ("error_capture_failed.txt", "other", "backup did not finish"),
        ("error_network.txt", "network", "getaddrinfo ENOTFOUND api.heroku.com"),
    ],
)
def test_cli_errors_are_classified_with_their_message(name, kind, words):
    failure = parse_cli_error(sample(name))
    assert failure.kind == kind and words in failure.message and "\n" not in failure.message


def test_explained_failures_name_the_way_forward():
    assert "check HEROKU_APP" in explain_failure("my-app", "config:get", 2, sample("error_unknown_app.txt"))
    assert "set HEROKU_API_KEY" in explain_failure("my-app", "pg:info", 1, sample("error_401.txt"))
    assert "addons:create heroku-postgresql" in explain_failure(
        "my-app", "pg:backups:capture", 1, sample("error_no_database.txt")
    )


def test_log_scan_finds_each_kind_of_database_error_after_the_start_only():
    since = datetime(2026, 11, 24, 10, 1, tzinfo=UTC)
    found = database_errors(sample("logs.txt"), since)
    kinds = [kind for kind, _ in found]
    assert kinds == ["too many connections", "FATAL", "relation does not exist", "SSL error"]
    assert not any("ECONNREFUSED" in line for _, line in found), "lines older than the run are not its business"
    assert next(k for k, _ in database_errors(sample("logs.txt"), since.replace(hour=9))) == "ECONNREFUSED"


def test_database_url_always_requires_ssl_and_empty_is_an_error():
    url = database_url("my-app", "postgres://u:secret@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d1")
    assert url.service_params()["sslmode"] == "require"
    assert database_url("my-app", "postgres://u:p@localhost:5432/d1").sslmode == "require"
    assert database_url("my-app", "postgres://u:p@h:5432/d1?sslmode=verify-full").sslmode == "verify-full"
    with pytest.raises(HerokuError, match="has no DATABASE_URL: provision heroku-postgresql"):
        database_url("my-app", None)
    with pytest.raises(HerokuError) as raised:
        database_url("my-app", "mysql://u:secret@h/d")
    assert "secret" not in str(raised.value)


def test_pool_arithmetic():
    check = PoolCheck(pool=5, web_dynos=2, reserve=10, limit=20)
    assert check.fits and check.needed == 20 and "= 20 ≤ 20" in check.describe("DB_POOL_MAX")
    tight = PoolCheck(pool=10, web_dynos=3, reserve=10, limit=20)
    assert not tight.fits and tight.largest_pool == 3
    assert PoolCheck(pool=10, web_dynos=1, reserve=25, limit=20).largest_pool == 0
    assert parse_pool_size(" 12 ") == 12 and parse_pool_size("ten") is None and parse_pool_size(None) is None


def test_cli_flags_come_before_the_dyno_command():
    """The real CLI stops reading its flags at ``--``: ``-a APP`` must come before it (issue 14.1)."""
    from tasks.heroku.cli import cli_argv

    argv = cli_argv("heroku", ["run", "--exit-code", "--no-tty", "--", "node -e 'x' -a y"], "my-app")
    assert argv == ["heroku", "run", "-a", "my-app", "--exit-code", "--no-tty", "--", "node -e 'x' -a y"]
    assert argv.index("-a") < argv.index("--")
    assert cli_argv("heroku", ["config:get", "DATABASE_URL", "--json"], "a")[:4] == ["heroku", "config:get", "-a", "a"]


@pytest.mark.parametrize(
    "name, kind, words, left_out",
    [
        # printed by the real CLI 11.10 against tests/heroku_fake.py
        (
            "error_capture_failed_pg_dump.txt",
            "other",
            "backup did not finish.; pg_dump: error: query failed: ERROR: permission denied for table secrets",
            "reading extensions",
        ),
        ("error_run_no_exit_code.txt", "no-exit-code", "No exit code returned", " at "),
        ("error_503_html.txt", "server", "HTTP Error 503 for GET http://127.0.0.1/apps/pgc-test-app/config-vars", "<"),
        ("error_addon_var.txt", "other", "Cannot overwrite attachment values DATABASE_URL.", "Error ID"),
    ],
)
def test_cli_errors_keep_the_cause_and_never_a_stack_frame_or_html(name, kind, words, left_out):
    """A failed capture keeps pg_dump's lines after the blank line; an early exit in `heroku run`
    crashes the CLI with a stack trace; a 5xx brings an HTML page: one line with the cause each."""
    failure = parse_cli_error(sample(name))
    assert failure.kind == kind and words in failure.message, failure
    assert left_out not in failure.message and "\n" not in failure.message


def test_explained_server_and_early_exit_failures_say_what_to_do():
    assert "status.heroku.com" in explain_failure("my-app", "config:get", 1, sample("error_503_html.txt"))
    assert "must not end the shell" in explain_failure("my-app", "run", 1, sample("error_run_no_exit_code.txt"))


@pytest.mark.parametrize(
    "said",
    [
        "Error: connect ECONNREFUSED 10.0.0.1:5432",
        "Invalid credentials provided.",
        "getaddrinfo ENOTFOUND db.example.com",
    ],
)
def test_a_failing_check_command_is_the_apps_failure_not_the_clis(said):
    """Adversary 14.1: what the dyno's command printed (node-postgres' ECONNREFUSED, ...) was read as the
    CLI's own network or login failure, with "nothing was changed" after migrations had run."""
    failure = parse_cli_error(
        f"Running node -e ... on ⬢ my-app... up, run.1234 (Basic)\n{said}\n"
        " \u203a   Error: Process exited with code 1\n"
    )
    assert failure.kind == "other"
    assert failure.message == f"Process exited with code 1: {said}"
