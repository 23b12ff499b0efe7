"""
An interrupted run (Ctrl-C on the terminal: SIGINT to the whole process group; a CI cancel:
SIGTERM to pyinfra alone) ends with one ``pgconverge:`` line naming the state it was in, that
state's summary row "failed", a non-zero exit status, and what it was doing rolled back. Real
PostgreSQL (the sandbox's clusters) through the real pyinfra CLI.
"""

import os
import signal
import time

import pytest

from tests.support import query, summary_rows, wait_for_query

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters


@pytest.mark.parametrize("signum, whole_group", [(signal.SIGINT, True), (signal.SIGTERM, False)])
def test_interrupted_migration_fails_its_row_with_one_line_and_is_rolled_back(project, signum, whole_group):
    project.write_migration(
        "900_slow.sql",
        "CREATE TABLE interrupted_t (id int);\n"
        f"SELECT pg_sleep(CASE WHEN current_database() = '{project.target_db}' THEN 60 ELSE 0 END);\n",
    )
    process = project.start()
    wait_for_query(project.target_db, "%pg_sleep%", process)
    if whole_group:
        os.killpg(process.pid, signum)
    else:
        process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    output = out + err
    name = signal.Signals(signum).name
    assert process.returncode == 128 + signum, output[-2500:]
    lines = [line for line in output.splitlines() if "pgconverge: " in line]
    assert lines == [(f"pgconverge: interrupted by {name} while Migrations applied: what was done is kept, "
                     "what it was doing was rolled back; run again")], output[-2500:]
    assert summary_rows(output)["Migrations applied"][0] == "failed"
    assert "Exiting upon user request" not in output and "Traceback" not in output
    # The server received the whole file at once: it must not finish it (and commit) without the run.
    deadline = time.monotonic() + 90
    while query(project.target_db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                   "AND pid <> pg_backend_pid()")[0][0] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert project.applied_versions() == [1, 2, 3, 4]  # the files before it are kept
    assert query(project.target_db, "SELECT to_regclass('public.interrupted_t') IS NULL")[0][0]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_while_the_settings_are_read_is_one_line_and_its_exit_status(project, signum):
    """Tester P5 side finding: Ctrl-C while the inventory loaded exited 0 ("Exiting upon user request!"),
    SIGTERM 143 without a line. Stand-in for a slow settings phase: a target that accepts the connection and
    never answers (the settings check that source and target differ; connect_timeout 30 s)."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        port = silent.getsockname()[1]
        process = project.start(TARGET_DATABASE_URL=f"postgres://u:pw@127.0.0.1:{port}/db?connect_timeout=30")
        time.sleep(4)
        assert process.poll() is None, "the settings phase ended before the signal"
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)
    finally:
        silent.close()
    output = out + err
    assert process.returncode == 128 + signum, output[-2500:]
    lines = [line for line in output.splitlines() if line.startswith("pgconverge: ")]
    assert lines == [(f"pgconverge: interrupted by {signal.Signals(signum).name} while reading the settings and "
                     "files: nothing was changed; run again")], output[-2500:]
    assert "Exiting upon user request" not in output
