"""
The sandbox (two real local PostgreSQL clusters) and the sample-data generator. No mocks.

Uses the session fixture ``sandbox`` from conftest.py; tests that stop the clusters start them
again before they finish.
"""

from __future__ import annotations

import os
import secrets
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

import sandbox as sb
from sandbox import cluster as sandbox_cluster
from sandbox import paths as sandbox_paths
from sandbox import sample_data
from sandbox import state as sandbox_state

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

ROOT = Path(__file__).resolve().parents[2]
TABLES = ("users", "rooms", "room_participants", "messages")


def _owner_url(state: dict, sslmode: str, password: str | None = None) -> str:
    tgt = state["target"]
    return (f"postgresql://{sb.TARGET_OWNER}:{password or tgt['password']}@127.0.0.1:{tgt['port']}"
            f"/{sb.TARGET_DB}?sslmode={sslmode}&connect_timeout=5")


def _run_cli(module: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=120, check=False)


# --------------------------------------------------------------------------- up, files, status


def test_up_again_is_harmless_fast_and_keeps_ports_and_passwords(sandbox, capsys):
    started = time.monotonic()
    again = sb.up()
    assert time.monotonic() - started < 5
    for name in sb.CLUSTERS:
        assert again[name]["port"] == sandbox[name]["port"]
        assert again[name]["password"] == sandbox[name]["password"]
    assert again["source"]["loaded"] is True
    out = capsys.readouterr().out
    assert "already running" in out and "already loaded" in out
    assert sandbox["source"]["password"] not in out and sandbox["target"]["password"] not in out


def test_env_and_state_files_are_private_and_match(sandbox):
    for path in (sb.ENV_FILE, sb.STATE_FILE):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    lines = sb.ENV_FILE.read_text().splitlines()
    assert lines[0].startswith("# written by python -m sandbox up")
    values = dict(line.split("=", 1) for line in lines[1:] if not line.startswith("#"))
    urls = {key: values.pop(key) for key in ("SOURCE_DATABASE_URL", "TARGET_DATABASE_URL")}
    assert urls == sandbox["env"] == sb.database_urls(sb.load_state())
    # the demo's files stay in the sandbox, never in the user's backups/, reports/ and .pgconverge/
    assert values == {
        "BACKUP_DIR": str(sb.SANDBOX / "demo" / "backups"),
        "REPORT_DIR": str(sb.SANDBOX / "demo" / "reports"),
        "STATE_DIR": str(sb.SANDBOX / "demo" / "state"),
        "PLANS_DIR": str(sb.SANDBOX / "demo" / "plans"),
    }
    assert urls["TARGET_DATABASE_URL"].endswith(f"/{sb.TARGET_DB}?sslmode=require")
    assert sandbox["source"]["password"].isalnum() and len(sandbox["source"]["password"]) >= 32


def test_status_reports_both_clusters_running(sandbox):
    result = sb.status()
    for name in sb.CLUSTERS:
        assert result[name]["running"] is True
        assert result[name]["port"] == sandbox[name]["port"]
    done = _run_cli("sandbox", "status")
    assert done.returncode == 0, done.stderr
    assert f"source: running on 127.0.0.1:{sandbox['source']['port']}" in done.stdout


def test_unix_socket_paths_are_short(sandbox):
    for name in sb.CLUSTERS:
        assert len(f"{sandbox[name]['socket_dir']}/.s.PGSQL.{sandbox[name]['port']}") < 100


# --------------------------------------------------------------------------- source


def test_source_answers_over_tcp_with_its_password_and_has_rows(sandbox):
    with psycopg.connect(sandbox["env"]["SOURCE_DATABASE_URL"], connect_timeout=5) as conn:
        counts = {
            t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()[0] for t in TABLES
        }
        assert all(n > 0 for n in counts.values()), counts
        assert counts["messages"] == sandbox["source"]["rows"]
        assert conn.execute("SELECT email FROM users WHERE id = 1").fetchone()[0] == "system@whynot.chat"
        for table in ("users", "rooms", "messages"):
            last, top = conn.execute(
                sql.SQL("SELECT (SELECT last_value FROM {}), (SELECT max(id) FROM {})").format(
                    sql.Identifier(f"{table}_id_seq"), sql.Identifier(table)
                )
            ).fetchone()
            assert last >= top, table


def test_source_refuses_a_wrong_password(sandbox):
    url = sandbox["env"]["SOURCE_DATABASE_URL"].replace(sandbox["source"]["password"], "wrong")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(url, connect_timeout=5)


# --------------------------------------------------------------------------- target


def test_target_refuses_plain_tcp(sandbox):
    with pytest.raises(psycopg.OperationalError, match="no encryption|pg_hba.conf rejects"):
        psycopg.connect(_owner_url(sandbox, "disable"))


def test_target_accepts_the_owner_over_ssl_like_heroku(sandbox):
    with psycopg.connect(_owner_url(sandbox, "require")) as conn:
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()[0] is True
        assert conn.execute("SHOW max_connections").fetchone()[0] == "20"
        flags = conn.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert flags == (False, False, False)
        owner = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
        ).fetchone()[0]
        assert owner == sb.TARGET_OWNER
        conn.execute("CREATE TABLE owner_can_create (id int)")  # CREATE on schema public
        conn.rollback()


def test_target_refuses_a_wrong_password(sandbox):
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(_owner_url(sandbox, "require", password="wrong"))


def test_reset_target_empties_the_target(sandbox):
    with psycopg.connect(_owner_url(sandbox, "require"), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS leftover (id int)")
    held = psycopg.connect(_owner_url(sandbox, "require"))  # an open connection must not block it
    started = time.monotonic()
    sb.reset_target()
    assert time.monotonic() - started < 5
    held.close()
    with psycopg.connect(_owner_url(sandbox, "require")) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]
        assert tables == 0
        conn.execute("CREATE TABLE owner_can_create (id int)")
        conn.rollback()
    with psycopg.connect(sb.admin_conninfo("target")) as conn:
        acl = conn.execute("SELECT datacl::text FROM pg_database WHERE datname = %s", (sb.TARGET_DB,)).fetchone()[0]
        assert "=Tc/" not in acl  # no default CONNECT/TEMP for PUBLIC


# --------------------------------------------------------------------------- ports, down, up


def test_a_busy_saved_port_is_replaced_by_a_free_one():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        state = {"source": {"port": taken}, "target": {"port": taken + 1}}
        port = sandbox_cluster._choose_port(state, "source")
    assert port not in (taken, taken + 1)
    assert sandbox_cluster._port_free(port)


def test_down_and_status_without_a_sandbox_are_harmless(tmp_path, monkeypatch, capsys):
    for module in (sb, sandbox_paths):
        monkeypatch.setattr(module, "SANDBOX", tmp_path / "none")
    monkeypatch.setattr(sandbox_paths, "STATE_FILE", tmp_path / "none" / "state.json")
    monkeypatch.setattr(sandbox_state, "STATE_FILE", tmp_path / "none" / "state.json")
    sb.down()
    sb.down()
    assert all(not c["running"] and not c["initialized"] for c in sb.status().values())
    assert not (tmp_path / "none").exists()
    assert "nothing to stop" in capsys.readouterr().out


def test_down_twice_then_up_restores_everything(sandbox):
    try:
        sb.down()
        sb.down()
        assert not any(c["running"] for c in sb.status().values())
        done = _run_cli("sandbox", "reset-target")
        assert done.returncode == 1
        assert done.stderr.strip().count("\n") == 0 and "not running" in done.stderr
    finally:
        again = sb.up()
    for name in sb.CLUSTERS:
        assert again[name]["port"] == sandbox[name]["port"]
    assert again["env"] == sandbox["env"]
    with psycopg.connect(_owner_url(sandbox, "require")) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


# --------------------------------------------------------------------------- sample data


@pytest.fixture()
def scratch_dbs(sandbox):
    """Makes empty databases with the schema and seed rows on the source cluster; drops them after."""
    names: list[str] = []

    def make() -> str:
        name = f"sample_{secrets.token_hex(4)}"
        with psycopg.connect(sb.admin_conninfo("source", "postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        names.append(name)
        conninfo = sb.admin_conninfo("source", name)
        sb.apply_migrations(conninfo)
        sb.load_seed(conninfo)
        return conninfo

    yield make
    with psycopg.connect(sb.admin_conninfo("source", "postgres"), autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# The generated rows only: the seed rows carry now() timestamps.
GENERATED = {"users": "id > 1", "rooms": "id > 2", "room_participants": "room_id > 2", "messages": "true"}


def _fingerprint(conninfo: str) -> dict:
    with psycopg.connect(conninfo) as conn:
        return {
            t: conn.execute(
                sql.SQL("SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {} AS t WHERE {}").format(
                    sql.Identifier(t), sql.SQL(where)
                )
            ).fetchone()
            for t, where in GENERATED.items()
        }


def test_sample_data_sizes_and_same_seed_same_rows(scratch_dbs):
    first, second, other = scratch_dbs(), scratch_dbs(), scratch_dbs()
    counts = sample_data.generate(first, 1_000, seed=7)
    assert counts == sample_data.generate(second, 1_000, seed=7)
    assert {k: counts[k] for k in ("users", "rooms", "messages")} == {"users": 20, "rooms": 3, "messages": 1_000}
    assert counts["users"] <= counts["room_participants"] <= 5 * counts["users"] + counts["rooms"]
    assert _fingerprint(first) == _fingerprint(second)
    sample_data.generate(other, 1_000, seed=8)
    assert _fingerprint(other)["messages"] != _fingerprint(first)["messages"]


def test_sample_data_shape_and_no_collision_with_seed_rows(scratch_dbs):
    conninfo = scratch_dbs()
    counts = sample_data.generate(conninfo, 5_000, seed=1)
    assert counts["users"] == 100 and counts["rooms"] == 10 and counts["messages"] == 5_000
    again = sample_data.generate(conninfo, 500, seed=1)  # offsets ids past the existing rows
    with psycopg.connect(conninfo) as conn:
        assert conn.execute("SELECT is_system FROM users WHERE id = 1").fetchone() == (True,)
        assert conn.execute("SELECT count(*) FROM rooms WHERE id IN (1, 2)").fetchone() == (2,)
        per_user = conn.execute(
            "SELECT min(n), max(n) FROM (SELECT count(*) AS n FROM room_participants"
            " WHERE user_id > 1 GROUP BY user_id) AS s"
        ).fetchone()
        assert per_user[0] >= 1 and per_user[1] <= 6  # 1-5 rooms, plus possibly one it created
        lengths = conn.execute("SELECT min(length(body)), max(length(body)) FROM messages").fetchone()
        assert 20 <= lengths[0] and lengths[1] <= 400
        assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 5_000 + again["messages"]
        new_id = conn.execute(
            "INSERT INTO users (email, display_name) VALUES ('x@example.test', 'X') RETURNING id"
        ).fetchone()[0]
        assert new_id > 100 + again["users"] + 1
        conn.rollback()


def test_sample_data_cli_needs_a_database():
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATABASE_URL"}
    done = _run_cli("sandbox.sample_data", "--messages", "10", env=env)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "SOURCE_DATABASE_URL" in done.stderr
