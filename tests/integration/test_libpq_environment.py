"""
No libpq environment variable in the user's shell changes where the tool connects or how it reads
data (issue 29 class 4). The list of variables is derived from libpq itself: every connection
option's ``envvar`` (``PQconndefaults`` through psycopg.pq) and every ``PG*`` name compiled into the
libpq library this process loaded (``PGDATESTYLE``, ``PGTZ``, ``PGSYSCONFDIR``, ...). Each is set to a
hostile value; the oracles are the server's own view of the session (address, port, database, user,
encoding, DateStyle, TimeZone, ...), asked through psycopg in this process and through a psql child,
and a pg_dump child's output of non-Latin text. Real sandbox clusters; the last test runs the real
pyinfra CLI with every variable hostile at once, in copy mode.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg import pq

from tasks.core import pgtools
from tasks.core.connections import ServiceFile
from tasks.core.urls import parse_database_url
from tests.support import MIGRATIONS, create_target_db, drop_db, query, sandbox_urls, with_dbname

pytestmark = pytest.mark.cluster

TEXT = "Ωμέγα 日本語 жёлтый"
FINGERPRINT = ("SELECT concat_ws('|', inet_server_addr(), inet_server_port(), current_database(), current_user, "
               "current_setting('client_encoding'), current_setting('DateStyle'), current_setting('TimeZone'), "
               "current_setting('geqo'), current_setting('search_path'), current_setting('application_name'), "
               "current_setting('default_transaction_read_only'), "
               "(SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), "
               "to_char(date '2024-03-01', 'YYYY-MM-DD'), date '2024-03-01'::text, (SELECT x FROM t))")


def libpq_variables() -> list[str]:
    """Every environment variable libpq reads, from libpq itself (not a list written here)."""
    names = {option.envvar.decode() for option in pq.Conninfo.get_defaults() if option.envvar}
    with open("/proc/self/maps") as maps:
        libraries = {line.split()[-1] for line in maps if "libpq" in line and line.split()[-1].startswith("/")}
    for library in libraries:
        found = re.findall(rb"(?<![A-Za-z0-9_])(PG[A-Z][A-Z0-9_]+)\0", Path(library).read_bytes())
        names.update(name.decode() for name in found if not name.startswith(b"PGRES_"))
    return sorted(names)


HOSTILE = {
    "PGHOSTADDR": "127.0.0.2", "PGHOST": "/nonexistent", "PGPORT": "1", "PGUSER": "intruder", "PGDATABASE": "intruder",
    "PGPASSWORD": "wrong", "PGCLIENTENCODING": "LATIN1", "PGDATESTYLE": "SQL, DMY", "PGTZ": "Pacific/Kiritimati",
    "PGGEQO": "off", "PGOPTIONS": "-c search_path=intruder -c default_transaction_read_only=on",
    "PGAPPNAME": "intruder", "PGSSLMODE": "disable", "PGTARGETSESSIONATTRS": "standby", "PGREQUIREAUTH": "gss",
    "PGCHANNELBINDING": "require", "PGGSSENCMODE": "require", "PGSSLNEGOTIATION": "direct",
    "PGMINPROTOCOLVERSION": "3.9", "PGMAXPROTOCOLVERSION": "3.0", "PGSSLMINPROTOCOLVERSION": "TLSv1.3",
    "PGSSLMAXPROTOCOLVERSION": "TLSv1", "PGCONNECT_TIMEOUT": "1", "PGSSLCERTMODE": "require",
    "PGLOADBALANCEHOSTS": "random", "PGREQUIRESSL": "1", "PGOAUTHDEBUG": "UNSAFE",
}


def hostile(name: str) -> str:
    return HOSTILE.get(name, "/nonexistent/intruder")


@pytest.fixture(scope="module")
def database(sandbox):
    name = create_target_db()
    query(name, "CREATE TABLE t (x text)")
    query(name, "INSERT INTO t VALUES (%s)", (TEXT,))
    query(name, "ALTER TABLE t OWNER TO whynot_owner")
    yield name
    drop_db(name)


def observe(dbname: str) -> tuple[str, str, str]:
    """(psycopg's view, psql's view, pg_dump's output of t) of a session through the run's service file."""
    with psycopg.connect("service=probe", autocommit=True) as conn:
        own = conn.execute(FINGERPRINT).fetchone()[0]
    child = subprocess.run(["psql", "-X", "-A", "-t", "-d", "service=probe", "-c", FINGERPRINT], capture_output=True,
                           timeout=30, check=False)
    tools = pgtools.for_server("target", 17)
    dump = subprocess.run([tools.binary("pg_dump"), "--data-only", "-t", "t", "-d", "service=probe"],
                          capture_output=True, timeout=30, check=False)
    return own, (child.stdout or child.stderr).decode("utf-8", "replace").strip(), \
        dump.stdout.decode("utf-8", "replace") if dump.returncode == 0 else dump.stderr.decode("utf-8", "replace")


def run_with(monkeypatch, dbname: str, environment: dict[str, str]) -> tuple[str, str, str]:
    url = parse_database_url(with_dbname(sandbox_urls()["target"], dbname))
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    service_file = ServiceFile({"probe": url.service_params()})
    try:
        service_file.install()
        return observe(dbname)
    finally:
        service_file.remove()


def test_the_variables_come_from_libpq():
    names = libpq_variables()
    assert {"PGHOSTADDR", "PGCLIENTENCODING", "PGDATESTYLE", "PGTZ", "PGSYSCONFDIR", "PGSSLCERT"} <= set(names)
    assert len(names) >= 35


@pytest.fixture(scope="module")
def baseline(database):
    patch = pytest.MonkeyPatch()
    try:
        return run_with(patch, database, {})
    finally:
        patch.undo()


@pytest.mark.parametrize("name", libpq_variables())
def test_no_libpq_variable_changes_the_session(monkeypatch, database, baseline, name):
    own, child, dump = run_with(monkeypatch, database, {name: hostile(name)})
    assert (own, child) == baseline[:2], f"{name}={hostile(name)!r} changed the session"
    assert TEXT in dump, f"{name}={hostile(name)!r}: pg_dump gave {dump[-300:]!r}"
    assert os.environ.get(name) != hostile(name)  # not what a child inherits either


def test_baseline_is_the_settings_session(baseline, database):
    own, child, dump = baseline
    fields = own.split("|")
    assert fields[2:6] == [database, "whynot_owner", "UTF8", "ISO, MDY"] and fields[-1] == TEXT
    assert child == own and TEXT in dump


def test_a_deploy_with_every_libpq_variable_hostile_goes_where_the_settings_say(source_db, project):
    """The issue's cases end to end: PGHOSTADDR would send the migration (and the password) elsewhere,
    PGCLIENTENCODING=LATIN1 would break the backup of non-Latin text."""
    query(source_db, "UPDATE users SET display_name = %s WHERE id = 1", (TEXT,), which="source")
    result = project.deploy(DATA_MIGRATION="copy", **{name: hostile(name) for name in libpq_variables()})
    assert result.code == 0, result.output[-2500:]
    assert project.applied_versions() == [int(p.name[:3]) for p in sorted(MIGRATIONS.glob("*.sql"))]
    assert query(project.target_db, "SELECT display_name FROM users WHERE id = 1") == [(TEXT,)]
    dumps = sorted((project.tmp / "backups").rglob("*.dump"))
    assert dumps, "no source backup was taken"
    restored = subprocess.run([pgtools.for_server("source", 15).binary("pg_restore"), "--data-only", "-t", "users",
                               "-f", "-", str(dumps[0])], capture_output=True, timeout=60, env={"PATH": os.defpath},
                              check=False)
    assert TEXT in restored.stdout.decode("utf-8"), restored.stderr[-500:]


@pytest.mark.parametrize("form", ["percent", "query"])
def test_libpq_socket_url_forms_reach_the_cluster_over_its_socket(sandbox, form):
    """``postgresql://user@%2Fsocket%2Ffolder:port/db`` and ``...@/db?host=/socket/folder`` connect through
    the Unix socket (the server sees no client address)."""
    source = parse_database_url(sandbox_urls()["source"])
    folder = sandbox["source"]["socket_dir"]
    secret = f":{quote(source.password or '', safe='')}"
    raw = (
        f"postgresql://{source.user}{secret}@{folder.replace('/', '%2F')}:{source.port}/{source.dbname}"
        if form == "percent"
        else f"postgresql://{source.user}{secret}@:{source.port}/{source.dbname}?host={folder}"
    )
    url = parse_database_url(raw)
    service_file = ServiceFile({"sock": url.service_params()})
    patch = pytest.MonkeyPatch()
    try:
        patch.setenv("PGSERVICEFILE", str(service_file.path))
        with psycopg.connect("service=sock", autocommit=True) as conn:
            row = conn.execute("SELECT inet_server_addr(), current_setting('port')::int, current_database()").fetchone()
        assert row == (None, source.port, source.dbname)
    finally:
        patch.undo()
        service_file.remove()


def _children_environments(leader: int, stop, seen: dict[str, bytes]) -> None:
    """/proc/PID/environ of every process of the deploy's session but the deploy itself."""
    import time

    while not stop.is_set():
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == leader:
                continue
            try:
                with open(f"/proc/{pid}/stat") as handle:
                    if handle.read().rsplit(")", 1)[1].split()[3] != str(leader):
                        continue
                with open(f"/proc/{pid}/environ", "rb") as env, open(f"/proc/{pid}/cmdline", "rb") as cmd:
                    command = cmd.read().replace(b"\0", b" ").decode(errors="replace")
                    seen[f"{pid} {command}"] = env.read()
            except (OSError, IndexError):
                pass
        time.sleep(0.003)


def test_no_child_of_the_deploy_inherits_a_libpq_variable_of_the_shell(project):
    """psql, pg_dump, pg_restore, sh: each one's environment, read from /proc while the deploy runs."""
    import threading

    hostile_env = {name: hostile(name) for name in libpq_variables()}
    seen: dict[str, bytes] = {}
    stop = threading.Event()
    process = project.start(**hostile_env)
    sampler = threading.Thread(target=_children_environments, args=(process.pid, stop, seen), daemon=True)
    sampler.start()
    try:
        _, err = process.communicate(timeout=180)
    finally:
        stop.set()
        sampler.join()
    assert process.returncode == 0, err[-2000:]
    children = {name: env for name, env in seen.items() if "bin/pyinfra" not in name}  # a fork shows its parent's
    assert any("pg_dump" in name for name in children), list(children)[:10]
    for name, env in children.items():
        variables = dict(item.split(b"=", 1) for item in env.split(b"\0") if b"=" in item)
        inherited = sorted(
            key.decode()
            for key, value in variables.items()
            if key.decode() in hostile_env and value.decode(errors="replace") == hostile_env[key.decode()]
        )
        assert not inherited, f"{name}: {inherited}"


def test_certificate_files_in_home_do_not_change_the_connection(project, tmp_path):
    """Tester P9: ~/.postgresql/root.crt made sslmode=require verify the server against it (the target
    unreachable: certificate verify failed); a client certificate there would be presented. The service
    file names no such file unless the URL does."""
    home = tmp_path / "home"
    folder = home / ".postgresql"
    folder.mkdir(parents=True)
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=other-ca",
            "-keyout",
            str(folder / "postgresql.key"),
            "-out",
            str(folder / "root.crt"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    (folder / "postgresql.crt").write_bytes((folder / "root.crt").read_bytes())
    (folder / "postgresql.key").chmod(0o600)
    result = project.deploy(HOME=str(home))
    assert result.code == 0, result.output[-2500:]
    assert "certificate verify failed" not in result.output
