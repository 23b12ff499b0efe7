"""
Migration risk measured on the real target (issue 27), PostgreSQL the oracle: the gate and the data
checks refuse before any backup with the target unchanged; sizes are pg_total_relation_size; the
proof's observed locks are those pg_locks shows in a session of the test's own.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from tests.support import admin, catalog_and_data, query

pytestmark = pytest.mark.cluster


def first_run(project) -> None:
    done = project.deploy()
    assert done.code == 0, done.output


def backups_taken(project) -> list:
    folder = project.tmp / "backups" / "target"
    return sorted(folder.glob("*")) if folder.exists() else []


def test_data_that_will_fail_stops_before_backup_and_names_file_table_count_key(project):
    first_run(project)
    query(project.target_db, "INSERT INTO rooms (slug, name) VALUES ('a', 'A'), ('b', 'B')")
    before, backups = catalog_and_data(project.target_db), backups_taken(project)
    project.write_migration("005_owner_required.sql", "ALTER TABLE rooms ALTER COLUMN created_by SET NOT NULL;\n")
    done = project.deploy()
    assert done.code != 0
    assert "005_owner_required.sql line 1" in done.output and "table public.rooms" in done.output
    assert "2 row(s) hold NULL" in done.output and "e.g. key (" in done.output
    assert catalog_and_data(project.target_db) == before and backups_taken(project) == backups


@pytest.mark.parametrize(
    "sql, says",
    [
        ("ALTER TABLE users ADD CONSTRAINT users_name_unique UNIQUE (display_name);\n", "value(s) are duplicated"),
        ("ALTER TABLE users ADD CONSTRAINT users_name_short CHECK (display_name <> 'same');\n", "violate it"),
    ],
)
def test_unique_and_check_over_bad_rows_refused(project, sql, says):
    first_run(project)
    query(project.target_db, "INSERT INTO users (email, display_name) VALUES ('a@x', 'same'), ('b@x', 'same')")
    before = catalog_and_data(project.target_db)
    project.write_migration("005_constraint.sql", sql)
    done = project.deploy()
    assert done.code != 0 and says in done.output and "005_constraint.sql line 1" in done.output, done.output
    assert catalog_and_data(project.target_db) == before


def test_gate_refuses_a_rewrite_of_a_large_table_and_accept_risk_lets_it_run(project):
    first_run(project)
    query(
        project.target_db,
        "INSERT INTO users (email, display_name) SELECT 'u' || g || '@x', repeat('n', 70) "
        "FROM generate_series(1, 20000) g",
    )
    size = query(project.target_db, "SELECT pg_total_relation_size('users')")[0][0]
    before, backups = catalog_and_data(project.target_db), backups_taken(project)
    project.write_migration("005_retype.sql", "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();\n")
    done = project.deploy(RISK_TABLE_MB="1")
    assert done.code != 0, done.output
    assert "005_retype.sql line 1 rewrites public.users" in done.output and "pgconverge: accept-risk" in done.output
    assert catalog_and_data(project.target_db) == before and backups_taken(project) == backups
    dry = project.dry(RISK_TABLE_MB="1", RISK_FAIL_ON="never")
    mb = f"{size / 1024 / 1024:.1f} MB"
    assert f"005_retype.sql:1 ACCESS EXCLUSIVE + rewrite of public.users ({mb}, " in dry.output, dry.output
    (project.migrations / "005_retype.sql").write_text(
        "-- pgconverge: accept-risk\nALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();\n"
    )
    done = project.deploy(RISK_TABLE_MB="1", REPORT_DIR=str(project.tmp / "reports"))
    assert done.code == 0, done.output
    report = json.loads((project.tmp / "reports" / "latest-run.json").read_text())
    assert any(
        line.startswith("005_retype.sql:2 ACCESS EXCLUSIVE + rewrite of public.users (") and "accepted" in line
        for line in report["risk"]
    ), report["risk"]


def test_example_app_from_scratch_shows_no_high_risk(project):
    done = project.dry(RISK_TABLE_MB="0")
    assert done.code == 0, done.output
    assert "HIGH RISK" not in done.output


def test_observed_locks_are_those_pg_locks_shows(tmp_path):
    """The proof's observer against a transaction of the test's own, on the same statements."""
    from tasks.migrations.files import read_migrations
    from tasks.risk import observe
    from tests.support import create_target_db, drop_db, sandbox_urls, with_dbname

    name = create_target_db()
    try:
        url = with_dbname(sandbox_urls()["target"], name)
        statements = [
            "CREATE TABLE t (id int PRIMARY KEY, n int)",
            "ALTER TABLE t ALTER COLUMN n TYPE bigint",
            "CREATE INDEX t_n ON t (n)",
            "ALTER TABLE t ADD CONSTRAINT t_n_pos CHECK (n > 0)",
        ]
        folder = tmp_path / "m"
        folder.mkdir()
        (folder / "001_t.sql").write_text(statements[0] + ";\n")
        (folder / "002_change.sql").write_text(";\n".join(statements[1:]) + ";\n")
        migrations = read_migrations(folder)
        observer = observe.Observer()
        from tasks.migrations.engine import apply_migrations
        from tasks.migrations.session import Limits

        apply_migrations(url, migrations, None, Limits(lock_timeout="0"), observer=observer)
        seen = observer.seen[migrations[1].checksum]
        with psycopg.connect(with_dbname(sandbox_urls()["target"], name)) as conn:
            conn.execute("DROP TABLE t; DROP TABLE schema_migrations; " + statements[0])
            conn.commit()
            node = conn.execute("SELECT relfilenode FROM pg_class WHERE relname = 't'").fetchone()[0]
            for index, statement in enumerate(statements[1:]):
                conn.execute(statement)
                modes = [
                    mode
                    for (mode,) in conn.execute(
                        "SELECT l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                        "WHERE l.pid = pg_backend_pid() AND c.relname = 't' AND l.granted"
                    ).fetchall()
                ]
                assert seen[index].held == {"public.t": observe.strongest(modes)}
                now = conn.execute("SELECT relfilenode FROM pg_class WHERE relname = 't'").fetchone()[0]
                assert (now != node) == ("public.t" in seen[index].rewritten)
                node = now
            conn.rollback()
    finally:
        drop_db(name)


def test_a_lock_held_for_a_few_seconds_is_waited_out_and_the_blocker_named(project):
    """The app (a second session, idle in a transaction that read users) holds its lock for ~3 s past
    the migration's first lock timeout: the file is retried, each retry names the app's pid."""
    import threading
    import time

    first_run(project)
    project.write_migration("005_note.sql", "ALTER TABLE users ADD COLUMN note text;\n")
    app = admin("target", project.target_db)
    app.execute("SET application_name = 'the_app'")
    app.execute("BEGIN")
    app.execute("SELECT count(*) FROM users")  # idle in a transaction holding ACCESS SHARE
    pid = app.info.backend_pid

    def release() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            waiting = query(
                project.target_db,
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE '%ADD COLUMN note%'",
            )[0][0]
            if waiting:
                break
            time.sleep(0.05)
        time.sleep(3)
        app.execute("ROLLBACK")

    releaser = threading.Thread(target=release)
    releaser.start()
    try:
        done = project.deploy(MIGRATION_LOCK_TIMEOUT="300ms", LOCK_RETRY_S="60")
    finally:
        releaser.join()
        app.close()
    assert done.code == 0, done.output
    assert "005_note.sql line 1: lock not granted, retry 1" in done.output, done.output
    assert f"held by pid {pid} (the_app, " in done.output
    assert 5 in project.applied_versions()


def test_without_retries_a_lock_timeout_still_fails_the_run(project):
    first_run(project)
    project.write_migration("005_note.sql", "ALTER TABLE users ADD COLUMN note text;\n")
    with admin("target", project.target_db) as app:
        app.execute("BEGIN")
        app.execute("SELECT count(*) FROM users")
        done = project.deploy(MIGRATION_LOCK_TIMEOUT="200ms", LOCK_RETRY_S="0")
        app.execute("ROLLBACK")
    assert done.code != 0 and "lock was not granted within MIGRATION_LOCK_TIMEOUT" in done.output
    assert 5 not in project.applied_versions()


def free_port() -> int:
    import socket

    with socket.socket() as one:
        one.bind(("127.0.0.1", 0))
        return one.getsockname()[1]


@pytest.fixture
def pgbouncer(project, ignored):
    """A real PgBouncer (Debian's package, scripts/ensure-system-packages) in transaction mode in front
    of the test's target database; yields its URL."""
    import os
    import shutil
    import subprocess
    import time
    from urllib.parse import urlsplit

    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not os.path.exists(binary):
        pytest.skip("pgbouncer not installed (scripts/ensure-system-packages installs it)")
    target = urlsplit(project.target_url)
    import pwd
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="pgconverge-pgbouncer-"))  # pytest's folders are root's alone
    port = free_port()
    (folder / "users.txt").write_text(f'"{target.username}" "{target.password}"\n')
    (folder / "pgbouncer.ini").write_text(
        f"[databases]\n{project.target_db} = host={target.hostname} port={target.port} dbname={project.target_db}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        "pool_mode = transaction\nserver_tls_sslmode = require\n"
        f"ignore_startup_parameters = {ignored}\n"
        f"auth_type = plain\nauth_file = {folder}/users.txt\nlogfile = {folder}/log\npidfile = {folder}/pid\n"
    )
    command = [binary, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer will not run as root: its files become the postgres user's (0600)
        owner = pwd.getpwnam("postgres")
        for path in (folder, folder / "users.txt", folder / "pgbouncer.ini"):
            os.chown(path, owner.pw_uid, owner.pw_gid)
        command = ["runuser", "-u", "postgres", "--", *command]
    started = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"postgresql://{target.username}:{target.password}@127.0.0.1:{port}/{project.target_db}?sslmode=disable"
        deadline = time.monotonic() + 10
        while True:
            try:
                psycopg.connect(url).close()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        started.terminate()
        started.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("ignored", ["", "extra_float_digits, options"])
def test_a_pgbouncer_is_refused_as_the_target_with_the_direct_url_to_use(project, pgbouncer, ignored):
    """PgBouncer as shipped (it refuses libpq's options) and as often configured (it ignores them)."""
    done = project.deploy(TARGET_DATABASE_URL=pgbouncer)
    assert done.code != 0
    assert "answers through a connection pooler" in done.output and "direct URL" in done.output, done.output
    assert ("is not the server's" if ignored else "unsupported startup parameter") in done.output
    assert query(project.target_db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")[0][0] == 0


def test_sizes_are_pg_total_relation_size_and_lock_holders_are_counted(project):
    """The sizing query against PostgreSQL's own functions, with a second session holding a lock."""
    from tasks.risk.size import parse_sizes, sizes_sql

    first_run(project)
    query(project.target_db, "INSERT INTO users (email, display_name) "
                             "SELECT 'u' || g, 'n' FROM generate_series(1, 500) g")
    query(project.target_db, "ANALYZE users")
    with admin("target", project.target_db) as app:
        app.execute("BEGIN")
        app.execute("SELECT 1 FROM rooms LIMIT 1")
        with admin("target", project.target_db) as conn:
            rows = [[("" if v is None else str(v).lower()[:1] if isinstance(v, bool) else str(v)) for v in row]
                    for row in conn.execute(sizes_sql(["users", "public.rooms", "missing"])).fetchall()]
        app.execute("ROLLBACK")
    sizes = parse_sizes(rows)
    expected = dict(query(project.target_db, "SELECT relname, pg_total_relation_size(oid) FROM pg_class "
                                             "WHERE relname IN ('users', 'rooms')"))
    assert (sizes["users"].bytes, sizes["public.rooms"].bytes) == (expected["users"], expected["rooms"])
    count = query(project.target_db, "SELECT count(*) FROM users")[0][0]
    assert sizes["users"].rows == count and sizes["users"].key == "id" and not sizes["users"].empty
    assert (sizes["public.rooms"].lockers, sizes["users"].lockers) == (1, 0)
    assert "missing" not in sizes  # made in this run: the target has no such table


def test_a_failure_in_the_observed_proof_names_its_line(tmp_path):
    from tasks.migrations.engine import apply_migrations
    from tasks.migrations.failures import MigrationError
    from tasks.migrations.files import read_migrations
    from tasks.migrations.session import Limits
    from tasks.risk import observe
    from tests.support import create_target_db, drop_db, sandbox_urls, with_dbname

    (tmp_path / "001_a.sql").write_text("CREATE TABLE a (id int);\n\nINSERT INTO a\n VALUES ('x');\n")
    name = create_target_db()
    try:
        url = with_dbname(sandbox_urls()["target"], name)
        with pytest.raises(MigrationError, match=r"migration 001_a.sql line 4: invalid input syntax"):
            limits = Limits(lock_timeout="0")
            apply_migrations(url, read_migrations(tmp_path), None, limits, observer=observe.Observer())
        assert query(name, "SELECT to_regclass('a') IS NULL")[0][0]
    finally:
        drop_db(name)
