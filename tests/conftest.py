"""
Shared pytest fixtures.

``sandbox`` (session): brings up the two local PostgreSQL clusters of ``sandbox`` once per
session (for tests marked ``cluster`` only: a unit test that asks for it fails; ``pytest -m "not cluster"``
starts no server). Under pytest-xdist each worker has clusters of its own (``.sandbox/workers/gwN``,
via SANDBOX_DIR), so a test that stops a cluster, changes a role or ALTER SYSTEM touches no other
worker. The session (idempotent and fast when they already run) and returns the state dict from
``sandbox.up()`` (ports, passwords, ``env`` URLs). The clusters are left running at the
end; a test that stops them must start them again. ``target_db``, ``project`` and ``source_db``
give a test its own databases and deploy inputs.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
# The tests' processes keep their bytecode (pytest's rewritten test modules included, in __pycache__,
# git-ignored) even where PYTHONDONTWRITEBYTECODE=1 is set: each worker rewrote and compiled every test
# module again (about 5 s of CPU a worker, twice the unit layer's collection).
sys.dont_write_bytecode = False
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if os.environ.get("PYTEST_XDIST_WORKER"):  # before sandbox is imported: each worker its own clusters
    os.environ["SANDBOX_DIR"] = str(ROOT / ".sandbox" / "workers" / os.environ["PYTEST_XDIST_WORKER"])
    # Their data on tmpfs where there is one (issue 26): on ext4, a third of the servers' CPU in the suite
    # went to allocating inodes for the files of the databases the tests create and drop.
    mounts = Path("/proc/mounts")
    tmpfs = {fields[1] for fields in map(str.split, mounts.read_text().splitlines() if mounts.exists() else [])
             if fields[2:3] == ["tmpfs"]}
    if "/dev/shm" in tmpfs and os.access("/dev/shm", os.W_OK):
        os.environ.setdefault("SANDBOX_CLUSTERS_DIR", "/dev/shm")  # python -m sandbox destroy removes them

# imported after the path is set (E402 is ignored for this file, pyproject.toml)
import sandbox as clusters
from tasks.migrations.engine import apply_migrations
from tasks.migrations.files import read_migrations
from tasks.migrations.session import Limits
from tests.support import MIGRATIONS, Project, create_target_db, drop_db, query, sandbox_urls, with_dbname


@pytest.fixture(autouse=True)
def no_traceback_in_deploy_output():
    """Done-when of issue 19: no deploy output captured by tests/support.py holds a Python traceback,
    unless its command asked for --debug."""
    from tests import support

    seen = len(support.OUTPUTS)
    yield
    found = [out for debug, out in support.OUTPUTS[seen:] if not debug and "Traceback" in out]
    assert not found, "a deploy printed a traceback without --debug:\n" + found[0][-3000:]


def pytest_configure(config: pytest.Config) -> None:
    """The project compiled once before the tests, in the controller (:mod:`sandbox.bytecode`)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        from sandbox import bytecode

        bytecode.compile_code()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """The unit layer starts no server: a test that needs the clusters says so with the cluster marker."""
    if "sandbox" in item.fixturenames and item.get_closest_marker("cluster") is None:
        pytest.fail(f"{item.nodeid} uses the sandbox's clusters: mark it cluster (pytestmark = pytest.mark.cluster)",
                    pytrace=False)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests marked ``long`` first, otherwise in the order collected (issue 26): started last, a test
    of several minutes kept one worker busy while the others had finished. ``make test`` hands tests out
    one at a time (``--maxschedchunk 1``), so the long ones spread over the workers."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.fixture(scope="session")
def sandbox() -> dict:
    import sandbox as sandbox_module

    try:
        return sandbox_module.up()
    except sandbox_module.SandboxError as exc:
        pytest.fail(f"sandbox up failed: {exc}", pytrace=False)


@pytest.fixture
def target_db(sandbox):
    """A new empty database on the sandbox target, owned by the non-superuser owner role."""
    name = create_target_db()
    yield name
    drop_db(name)


@pytest.fixture
def project(tmp_path, target_db):
    return Project(tmp_path, target_db)


@pytest.fixture(scope="session")
def source_template(sandbox):
    """This worker's template of the source database (issue 26): the app's schema and some rows, made
    once per session; each test's ``source_db`` is a copy of it (CREATE DATABASE ... TEMPLATE: a file
    copy, about half the cost of applying the migrations and inserting the rows again per test).
    Nothing connects to it after it is made (a template with a session open cannot be copied)."""
    name = f"s_template_{secrets.token_hex(4)}"
    with psycopg.connect(clusters.admin_conninfo("source", "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    apply_migrations(clusters.admin_conninfo("source", name), read_migrations(MIGRATIONS), None, Limits())
    query(
        name,
        "INSERT INTO users (email, display_name) SELECT 'u' || g || '@x', 'User ' || g FROM generate_series(1, 50) g; "
        "INSERT INTO rooms (slug, name, created_by) SELECT 'room-' || g, 'Room ' || g, g FROM generate_series(1, 5) g; "
        "INSERT INTO messages (room_id, user_id, body) SELECT 1 + g % 5, 1 + g % 50, repeat('hello ', 1 + g % 7) "
        "FROM generate_series(1, 500) g",
        which="source",
    )
    with psycopg.connect(clusters.admin_conninfo("source", name), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # nothing left for autovacuum to do during a test (copied with the files)
    yield name
    with psycopg.connect(clusters.admin_conninfo("source", "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def source_db(project, source_template):
    """A source database of its own on the source cluster: the app's schema and some rows (a copy of
    this worker's ``source_template``)."""
    name = f"s_{secrets.token_hex(4)}"
    with psycopg.connect(clusters.admin_conninfo("source", "postgres"), autocommit=True) as conn:
        create = sql.SQL("CREATE DATABASE {} TEMPLATE {}")
        conn.execute(create.format(sql.Identifier(name), sql.Identifier(source_template)))
    project.source_url = with_dbname(sandbox_urls()["source"], name)
    yield name
    with psycopg.connect(clusters.admin_conninfo("source", "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def heroku(project, tmp_path):
    """
    The project's target as a Heroku app "pgc-test-app": the real ``heroku`` CLI (pinned, installed
    by ``make heroku-cli`` or ``make test``) talks to a local fake of Heroku's servers (Heroku is unreachable
    here), whose
    DATABASE_URL is the test's database on the sandbox target, owned by a role of its own; ``heroku
    run``/``logs`` go through the real CLI too (the fake serves the rendezvous and the log stream).
    See tests/heroku_fake.py. The project's env then has HEROKU_APP and no TARGET_DATABASE_URL.
    """
    from tasks.heroku.cli import PROJECT_CLI
    from tests.heroku_fake import FakeHeroku

    if not PROJECT_CLI.exists():
        pytest.fail(
            "the Heroku CLI is not installed: run make heroku-cli (installs it into .tools/heroku; make test does)",
            pytrace=False,
        )
    fake = FakeHeroku(tmp_path / "heroku", "pgc-test-app", project.target_db).start()
    project.extra.update(
        fake.env(),
        HEROKU_APP=fake.name,
        TARGET_DATABASE_URL="",
        HEROKU_CLI=str(PROJECT_CLI),
        APP_DB_CHECK_COMMAND='psql "$DATABASE_URL" -XAtqc "SELECT now()"',
    )
    yield fake
    fake.stop()


if os.environ.get("PGC_COUNT_CLI"):  # measuring (issue 26): new pyinfra processes per test (Popen), and
    # CLI runs through tests/support.py (forked from tests/cli_fork.py's helper unless PGC_REAL_CLI=1)
    import json
    import subprocess

    CLI_STARTS: dict[str, int] = {}
    _popen_init = subprocess.Popen.__init__

    def _counting_init(self, args, *rest, **kwargs):  # type: ignore[no-untyped-def]
        argv = [args] if isinstance(args, (str, bytes)) else list(args)
        if argv and str(argv[0]).endswith("pyinfra"):
            test = os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0]
            CLI_STARTS[test] = CLI_STARTS.get(test, 0) + 1
        _popen_init(self, args, *rest, **kwargs)

    subprocess.Popen.__init__ = _counting_init  # type: ignore[method-assign]

    def pytest_sessionfinish(session: pytest.Session) -> None:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        out = Path(os.environ["PGC_COUNT_CLI"]) / f"cli-starts-{worker}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(CLI_STARTS, indent=1, sort_keys=True))
        from tests import cli_fork

        forked = Path(os.environ["PGC_COUNT_CLI"]) / f"cli-runs-via-support-{worker}.json"
        forked.write_text(json.dumps(cli_fork.RUNS, indent=1, sort_keys=True))
