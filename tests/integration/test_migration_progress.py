"""
A long migration shows progress, live, in pyinfra's output (issue 29 class 9), through the real CLI
against the sandbox's clusters: in the proof (the statement sleeps: "running") and on the target,
where a second session of the target's role plays the application and holds ``users`` (the
migration waits: "waiting on a lock held by pid N (application_name …)"). Each line arrives while
the run is still going, seconds before it ends; each file is named with its time when done.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time

import psycopg
import pytest

pytestmark = pytest.mark.cluster

SLOW = "SELECT pg_sleep(5);\nALTER TABLE users ADD COLUMN nickname text;\n"


def read_lines(stream, lines: list[tuple[float, str]]) -> None:
    for line in stream:
        lines.append((time.monotonic(), line.rstrip("\n")))


def test_a_long_migration_prints_what_it_waits_on_while_it_runs_in_the_proof_and_on_the_target(project, source_db):
    assert project.deploy().code == 0
    project.write_migration("005_slow.sql", SLOW)
    app = psycopg.connect(project.target_url)
    app.execute("SET application_name = 'the-app'")
    app.execute("SELECT count(*) FROM users")  # idle in transaction: ALTER TABLE waits for it
    lines: list[tuple[float, str]] = []
    process = project.start(MIGRATION_LOCK_TIMEOUT="60s")
    readers = [threading.Thread(target=read_lines, args=(stream, lines)) for stream in (process.stdout, process.stderr)]
    for reader in readers:
        reader.start()
    try:
        deadline = time.monotonic() + 120
        held = f'waiting on a lock held by pid {app.info.backend_pid} (application_name "the-app", idle in transaction'
        while not any(held in line for _, line in lines):
            assert process.poll() is None and time.monotonic() < deadline, "\n".join(x for _, x in lines)[-3000:]
            time.sleep(0.1)
        time.sleep(6)  # the app keeps its transaction a little longer, then commits: the migration goes on
        app.commit()
        assert process.wait(timeout=120) == 0, "\n".join(x for _, x in lines)[-3000:]
    finally:
        app.close()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        for reader in readers:
            reader.join()
    ended = time.monotonic()
    text = [line for _, line in lines]
    proving = [(at, line) for at, line in lines
               if "proving 005_slow.sql (5/5): " in line and "s so far, running" in line]
    assert proving, "\n".join(text)[-3000:]
    assert "(waiting on Timeout: PgSleep)" in proving[0][1]
    assert any(re.search(r"proved 005_slow\.sql \(5/5, [\d,]+ ms\)", line) for line in text)
    assert any(re.search(r"proved 5 file\(s\) on a shadow database in [\d.]+s", line) for line in text)
    waiting = [(at, line) for at, line in lines
               if "applying 005_slow.sql (1/1): " in line and "s so far, waiting on a lock held by" in line]
    assert len(waiting) >= 2, "\n".join(text)[-3000:]  # a line every few seconds
    assert waiting[1][0] - waiting[0][0] >= 3
    assert ended - waiting[0][0] >= 3  # live: seen while the run still had seconds to go
    assert any(re.search(r"applied 005_slow\.sql \(1/1, [\d,]+ ms\)", line) for line in text)
    assert project.deploy().changed() == []  # and again: nothing to do, nothing printed about 005


def test_short_files_print_no_progress_line(project, source_db):
    result = project.deploy()
    assert result.code == 0
    assert "s so far, " not in result.output and "waiting on a lock" not in result.output
    assert "proved 001_" not in result.output  # the proof names only files that took a second or more
