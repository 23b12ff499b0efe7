"""
restore.py cannot be turned against the target (issue 29 classes 2, 3 and 8; issue 31 item 2), through
the real pyinfra CLI against the sandbox's clusters, with a second session playing the application:

* a backup of another database (the source's dump) is refused, whatever ``confirm=`` says;
* it takes a verified backup of what it replaces, names it, and restoring that one undoes it;
* without ``backup=`` it lists the target's verified backups; a name not found lists the candidates;
  a bare file name is looked up in the target's backup folder;
* an application's open transaction makes it wait a bounded time, retried, then fail in one line
  naming that session, while the application's own statements are not held up without limit;
* SIGINT and SIGTERM end it in one line with exit status 130 and 143;
* a dry or refused restore leaves nothing in the temporary folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import psycopg
import pytest

from tests.support import PYINFRA, ROOT, admin, catalog_and_data, query

pytestmark = pytest.mark.cluster


def deployed_twice(project) -> list:
    """Deploy, add a row and a migration and deploy again: two verified backups of the target."""
    assert project.deploy().code == 0
    project.write_migration("005_audit.sql", "CREATE TABLE audit (id int PRIMARY KEY);\n")
    result = project.deploy()
    assert result.code == 0, result.output[-2000:]
    return sorted((project.tmp / "backups" / "target").glob("*.dump"))


def test_a_backup_of_another_database_is_refused_and_nothing_changes(project, source_db):
    assert project.deploy().code == 0
    (source_dump,) = sorted((project.tmp / "backups" / "source").glob("*.dump"))
    before = catalog_and_data(project.target_db)
    refused = project.restore(f"backup={source_dump}", f"confirm={project.target_db}")
    assert refused.code != 0
    assert f"{source_dump.name} is not a backup of this target (it is a backup of " in refused.output
    assert "nothing was changed" in refused.output
    assert catalog_and_data(project.target_db) == before
    assert not list((project.tmp / "backups" / "target").glob("*.dump"))  # no backup taken either


def test_restore_backs_up_what_it_replaces_and_that_backup_undoes_it(project, source_db):
    dumps = deployed_twice(project)
    query(project.target_db, "INSERT INTO audit VALUES (1)")
    after = catalog_and_data(project.target_db)
    first = project.restore(f"backup={dumps[-1].name}", f"confirm={project.target_db}")  # a bare file name
    assert first.code == 0, first.output[-3000:]
    taken = sorted(set((project.tmp / "backups" / "target").glob("*.dump")) - set(dumps))
    assert len(taken) == 1
    assert f"the target as it was is backup {taken[0].name} (restore it to undo)" in first.output
    assert catalog_and_data(project.target_db) != after
    undo = project.restore(f"backup={taken[0].name}", f"confirm={project.target_db}")
    assert undo.code == 0, undo.output[-3000:]
    assert catalog_and_data(project.target_db) == after  # the row written after the backup is back


def test_without_backup_it_lists_the_backups_and_a_name_not_found_names_the_candidates(project, source_db):
    dumps = deployed_twice(project)
    before = catalog_and_data(project.target_db)
    listed = project.restore()
    assert listed.code == 0, listed.output[-3000:]
    assert "verified backups of this target in" in listed.output
    for dump in dumps:
        assert dump.name in listed.output
    assert "local dump: " in listed.output and " MB " in listed.output
    missing = project.restore("backup=nope.dump", f"confirm={project.target_db}")
    assert missing.code != 0
    assert "backup nope.dump not found" in missing.output
    assert dumps[-1].name in missing.output and "has no readable pgconverge manifest" not in missing.output
    assert catalog_and_data(project.target_db) == before


def test_dry_and_refused_restores_leave_nothing_in_the_temporary_folder(project, source_db, tmp_path):
    dumps = deployed_twice(project)
    scratch = tmp_path / "scratch"
    scratch.mkdir(mode=0o700)
    args = ["--data", f"backup={dumps[0]}", "--data", f"confirm={project.target_db}"]
    dry = subprocess.run([PYINFRA, "--dry", *args, "inventory.py", "restore.py"], cwd=ROOT,
                         env=project.env(TMPDIR=str(scratch)), capture_output=True, text=True, timeout=180, check=False)
    assert dry.returncode == 0, (dry.stdout + dry.stderr)[-3000:]
    refused = project.restore(f"backup={dumps[0]}", "confirm=wrong", TMPDIR=str(scratch))
    assert refused.code != 0
    assert [p.name for p in scratch.iterdir() if p.name.startswith("pgconverge-restore")] == []
    assert len(list((project.tmp / "backups" / "target").glob("*.dump"))) == len(dumps)


def app_holding_users(project):
    """The application, with the target's own role (as on Heroku): a transaction left open after
    reading users (idle in transaction)."""
    app = psycopg.connect(project.target_url, autocommit=True)
    app.execute("SET application_name = 'the-app'")
    app.autocommit = False
    app.execute("SELECT count(*) FROM users")
    return app


def waiting_on_a_lock(dbname: str, process, timeout: float = 120) -> None:
    """Until a session of ``dbname`` other than the application waits on a lock (the tool's)."""
    deadline = time.monotonic() + timeout
    text = ("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock' "
            "AND application_name <> 'the-app'")
    while query("postgres", text, (dbname,))[0][0] == 0:
        assert process.poll() is None and time.monotonic() < deadline, "the tool never waited on a lock"
        time.sleep(0.05)


def timed_select(dbname: str) -> float:
    """Another application statement, started while the tool waits: how long it took (10 s: cancelled)."""
    started = time.monotonic()
    with admin("target", dbname) as conn:
        conn.execute("SET application_name = 'the-app'")
        conn.execute("SET statement_timeout = '10s'")
        try:
            conn.execute("SELECT count(*) FROM users").fetchone()
        except Exception:  # noqa: BLE001 - queued until cancelled: the wait had no limit
            return 10.0
    return time.monotonic() - started


def test_an_open_application_transaction_bounds_the_wait_and_is_named_and_the_app_keeps_working(project, source_db):
    dumps = deployed_twice(project)
    app = app_holding_users(project)
    try:
        pid = app.info.backend_pid
        before = catalog_and_data(project.target_db)
        process = subprocess.Popen(
            [PYINFRA, "-y", "--data", f"backup={dumps[0]}", "--data", f"confirm={project.target_db}",
             "inventory.py", "restore.py"], cwd=ROOT, env=project.env(), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            waiting_on_a_lock(project.target_db, process)
            started = time.monotonic()
            took = timed_select(project.target_db)
            out, err = process.communicate(timeout=90)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
        waited = time.monotonic() - started
        assert took < 4, took  # the app's SELECT did not queue behind the restore without limit
        assert process.returncode not in (0, None)
        line = [x for x in (out + err).splitlines() if "waited 4 times" in x]
        assert line, (out + err)[-3000:]
        assert f'pid {pid} (application_name "the-app", idle in transaction for ' in line[0], line[0]
        assert "end that session's transaction" in line[0]
        assert waited < 60
        app.rollback()
        assert catalog_and_data(project.target_db) == before
    finally:
        app.close()
    again = project.restore(f"backup={dumps[0]}", f"confirm={project.target_db}")  # the app gone: it goes through
    assert again.code == 0, again.output[-3000:]
    twice = project.restore(f"backup={dumps[0]}", f"confirm={project.target_db}")  # and again, the same
    assert twice.code == 0, twice.output[-3000:]


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_restore_says_so_in_one_line_and_exits_128_plus_the_signal(project, source_db, signum, code,
                                                                                  tmp_path):
    dumps = deployed_twice(project)
    scratch = tmp_path / "scratch"
    scratch.mkdir(mode=0o700)
    app = app_holding_users(project)  # the restore waits on it: time to interrupt it
    try:
        before = catalog_and_data(project.target_db)
        process = subprocess.Popen(
            [PYINFRA, "-y", "--data", f"backup={dumps[0]}", "--data", f"confirm={project.target_db}",
             "inventory.py", "restore.py"], cwd=ROOT, env=project.env(TMPDIR=str(scratch)), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True)
        waiting_on_a_lock(project.target_db, process)
        assert [p for p in scratch.iterdir() if p.name.startswith("pgconverge-restore-")]
        os.kill(process.pid, signum)
        out, err = process.communicate(timeout=60)
        assert process.returncode == code, (out + err)[-3000:]
        lines = [x for x in (out + err).splitlines() if x.startswith("pgconverge: interrupted by")]
        assert len(lines) == 1 and signal.Signals(signum).name in lines[0]
        assert "Traceback" not in out + err
        assert [p for p in scratch.iterdir() if p.name.startswith("pgconverge-restore-")] == []  # nothing left
        app.rollback()
        assert catalog_and_data(project.target_db) == before
    finally:
        app.close()
