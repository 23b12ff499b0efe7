"""
Bad settings stop the run with one line and change nothing; secrets never reach a command line,
pyinfra's output at -vvv, or a file left behind. Real pyinfra CLI, real sandbox clusters.
"""

import glob
import os
import tempfile
import threading
import time

import pytest
from dotenv import dotenv_values

import sandbox
from tests.support import ROOT, catalog_and_data

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters


def passwords() -> list[str]:
    values = dotenv_values(sandbox.ENV_FILE)
    from tasks.core.urls import parse_database_url

    found = [parse_database_url(values[k]).password for k in ("SOURCE_DATABASE_URL", "TARGET_DATABASE_URL")]
    assert all(p and len(p) >= 12 for p in found)
    return found


@pytest.mark.parametrize(
    "change, variable",
    [
        # a malformed or empty target, a missing migrations folder and an unknown DATA_MIGRATION are cases
        # of the bad-input catalogue (tests/reliability/test_bad_inputs.py), which checks the same there
        ({"SOURCE_DATABASE_URL": "http://example.com/"}, "SOURCE_DATABASE_URL"),
    ],
)
def test_bad_settings_stop_with_one_line_and_change_nothing(project, change, variable):
    before = catalog_and_data(project.target_db)
    result = project.deploy(**change)
    assert result.code == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("pgconverge:")]
    assert len(lines) == 1 and lines[0].startswith(f"pgconverge: {variable}:"), result.stderr
    assert "Traceback" not in result.output
    assert catalog_and_data(project.target_db) == before


def test_bad_migration_file_stops_before_connecting(project):
    project.write_migration("004_create_messages.sql", "-- emptied by mistake\n")
    before = catalog_and_data(project.target_db)
    result = project.deploy()
    assert result.code == 2
    assert "pgconverge: migration 004_create_messages.sql is empty" in result.stderr
    assert catalog_and_data(project.target_db) == before


def _sample_command_lines(stop: threading.Event, seen: set[str]) -> None:
    while not stop.is_set():
        for path in glob.glob("/proc/[0-9]*/cmdline"):
            try:
                with open(path, "rb") as handle:
                    seen.add(handle.read().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                pass
        time.sleep(0.003)


def test_no_secret_on_any_command_line_or_in_verbose_output(project):
    secrets_ = passwords()
    seen: set[str] = set()
    stop = threading.Event()
    sampler = threading.Thread(target=_sample_command_lines, args=(stop, seen), daemon=True)
    sampler.start()
    project.extra["REPORT_DIR"] = str(project.tmp / "reports")
    try:
        process = project.start("-vvv")
        out, err = process.communicate(timeout=180)
    finally:
        stop.set()
        sampler.join()
    assert process.returncode == 0, err[-3000:]
    assert any("pg_dump" in line and "service=source" in line for line in seen), "the sampler saw the deploy's pg_dump"
    for secret in secrets_:
        assert not [line for line in seen if secret in line]
        assert secret not in out and secret not in err
    # Nothing the run left on disk holds one: reports, backup manifests, the proof cache, a debug log.
    left = [p for p in project.tmp.rglob("*") if p.is_file() and p.suffix != ".dump"]
    left += [p for p in (ROOT / "pyinfra-debug.log",) if p.exists()]
    assert any(p.name == "latest-run.json" for p in left) and any(p.parent.name == "source" for p in left)
    for path in left:
        text = path.read_text(errors="replace")
        assert not [s for s in secrets_ if s in text], path
    from tests.reliability.counts import add

    add("secret leaks found (command lines, output at -vvv, files)", 0)
    # The run's private service file is gone with it.
    assert not glob.glob(os.path.join(tempfile.gettempdir(), f"pgconverge-{process.pid}-*"))


def test_failure_messages_carry_no_secret(project):
    project.write_migration("005_broken.sql", "CREATE TABLE broken (id int;\n")
    result = project.deploy("-vvv")
    assert result.code != 0
    assert "005_broken.sql line 1" in result.output
    for secret in passwords():
        assert secret not in result.output
