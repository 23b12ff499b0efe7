"""
Health checks against the sandbox's real PostgreSQL clusters: each check is provoked on purpose in
a scratch database (a lock that blocks, a long query, a session idle in transaction, a sequence
near its maximum, connections near the limit, a session without SSL...) and its colour asserted.
The health query runs through psycopg, and once through the run's session exactly as the deploy reads it.

The target cluster has max_connections = 20 and other tests share it: no test here holds more
than 14 connections, and every connection is closed.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import threading
import time
from contextlib import ExitStack

import psycopg
import pytest
from psycopg import sql

import sandbox as clusters
from tasks.core import sessions
from tasks.core.connections import ServiceFile
from tasks.core.fact import read
from tasks.core.urls import parse_database_url
from tasks.health import checks as health
from tasks.health.checks import Thresholds, evaluate, render, report_document
from tasks.health.facts import HealthSnapshot
from tasks.health.query import HIDDEN, health_sql, outliers_sql
from tests.support import sandbox_urls

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

MAX_HELD = 14


@pytest.fixture
def scratch(sandbox):
    """``scratch(which="target") -> dbname``: a new database (owned by the owner role on the target), dropped after."""
    made = []

    def make(which: str = "target") -> str:
        name = f"h_{secrets.token_hex(4)}"
        owner = sql.SQL(" OWNER {}").format(sql.Identifier(clusters.TARGET_OWNER)) if which == "target" else sql.SQL("")
        with psycopg.connect(clusters.admin_conninfo(which, "postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)) + owner)
        made.append((which, name))
        return name

    yield make
    for which, name in made:
        with psycopg.connect(clusters.admin_conninfo(which, "postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def admin(dbname: str, which: str = "target", autocommit: bool = True) -> psycopg.Connection:
    """Superuser over the unix socket (no SSL)."""
    return psycopg.connect(clusters.admin_conninfo(which, dbname), autocommit=autocommit)


def owner(dbname: str, autocommit: bool = True) -> psycopg.Connection:
    """The target's owner role (not a superuser) over TLS with its password, like an app on Heroku."""
    return psycopg.connect(sandbox_urls()["target"], dbname=dbname, autocommit=autocommit)


def raw_health(conn: psycopg.Connection, **thresholds) -> dict:
    return json.loads(conn.execute(health_sql(**thresholds)).fetchone()[0])


def checks(raw: dict, thresholds: Thresholds | None = None, **kwargs) -> dict[str, health.Check]:
    return {c.name: c for c in evaluate(raw, thresholds or Thresholds(), **kwargs)}


def wait_for(conn, predicate, timeout: float = 10.0, **thresholds) -> dict:
    """Read the health until ``predicate(raw)`` holds (the provoked state takes a moment to show)."""
    deadline = time.monotonic() + timeout
    while True:
        raw = raw_health(conn, **thresholds)
        if predicate(raw) or time.monotonic() > deadline:
            return raw
        time.sleep(0.1)


def in_background(conn: psycopg.Connection, query: str) -> threading.Thread:
    """Run ``query`` on ``conn`` in a thread; errors (a cancel) are kept on the thread as ``error``."""

    def run():
        try:
            conn.execute(query)
        except psycopg.Error as exc:
            thread.error = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.error = None
    thread.start()
    return thread


def passwords() -> list[str]:
    found = [parse_database_url(url).password for url in sandbox_urls().values()]
    assert all(p and len(p) >= 12 for p in found)
    return found


def test_a_lock_that_blocks_another_session_is_red_with_both_pids(scratch):
    db = scratch()
    with owner(db) as checker, owner(db, autocommit=False) as holder, owner(db) as waiter:
        holder.execute("CREATE TABLE t (id int)")
        holder.commit()
        holder_pid, waiter_pid = holder.info.backend_pid, waiter.info.backend_pid
        holder.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        thread = in_background(waiter, "SELECT count(*) FROM t")
        raw = wait_for(checker, lambda r: r["blocking"])
        holder.rollback()
        thread.join(5)
    found = checks(raw)["blocking"]
    assert found.status == "red", found
    assert found.summary == f"1 session blocked by pid {holder_pid}"
    assert f"pid {waiter_pid}" in found.details[0] and f"pid {holder_pid}" in found.details[0]
    assert "SELECT count(*) FROM t" in found.details[0] and "LOCK TABLE t" in found.details[0]
    with admin(db) as probe:
        assert checks(raw_health(probe))["blocking"].status == "green"


def test_a_query_running_past_the_threshold_is_listed(scratch):
    db = scratch()
    with admin(db) as checker, admin(db) as sleeper:
        checker_pid, sleeper_pid = checker.info.backend_pid, sleeper.info.backend_pid
        thread = in_background(sleeper, "SELECT pg_sleep(30) /* long one */")
        raw = wait_for(checker, lambda r: r["long_queries"], long_query_s=1)
        default = raw_health(checker)
        checker.execute("SELECT pg_cancel_backend(%s)", [sleeper_pid])
        thread.join(5)
    assert isinstance(thread.error, psycopg.errors.QueryCanceled)
    found = checks(raw, Thresholds(long_query_s=1))["long queries"]
    assert found.status == "yellow", found
    assert found.details[0].startswith(f"pid {sleeper_pid} ")
    assert found.details[0].endswith("SELECT pg_sleep(30) /* long one */")
    assert default["long_queries"] == [] and checks(default)["long queries"].status == "green"
    assert all(s["pid"] != checker_pid for s in raw["long_queries"])  # never the checking session


def test_a_session_idle_in_transaction_is_listed_and_its_secret_hidden(scratch):
    db = scratch()
    with admin(db) as checker, admin(db, autocommit=False) as idle:
        idle_pid = idle.info.backend_pid
        idle.execute("SELECT 'my password is hunter2' AS note")
        raw = wait_for(checker, lambda r: r["idle_in_transaction"], idle_s=0.5)
        default = raw_health(checker)
        idle.rollback()
    found = checks(raw, Thresholds(idle_s=0.5))["idle in transaction"]
    assert found.status == "yellow", found
    assert found.details[0].startswith(f"pid {idle_pid} ") and found.details[0].endswith(HIDDEN)
    assert "hunter2" not in json.dumps(raw)
    assert checks(default)["idle in transaction"].status == "green"


@pytest.mark.parametrize("percent, expected", [(95, "red"), (80, "yellow"), (50, "green")])
def test_a_sequence_near_its_maximum(scratch, percent, expected):
    db = scratch()
    with admin(db) as conn:
        conn.execute("CREATE SEQUENCE order_seq AS integer")
        conn.execute("SELECT setval('order_seq', %s)", [2_147_483_647 * percent // 100])
        raw = raw_health(conn)
    found = checks(raw)["sequences"]
    assert found.status == expected, found
    if expected != "green":
        value = 2_147_483_647 * percent // 100
        assert found.details[0].startswith(f"public.order_seq (integer): {value:,} of 2,147,483,647")


def test_connections_close_to_the_limit(scratch):
    db = scratch()
    with ExitStack() as stack:
        checker = stack.enter_context(owner(db))
        before = raw_health(checker)
        wanted = math.ceil(before["max_connections"] * 0.75)  # 15 of 20
        needed = wanted - before["connections"]
        assert 0 <= needed <= MAX_HELD, f"{before['connections']} connections already in use on the target"
        held = [stack.enter_context(admin(db)) for _ in range(needed)]
        raw = raw_health(checker)
        assert all(conn.info.backend_pid for conn in held)
    used, limit = raw["connections"], raw["max_connections"]
    assert used >= wanted
    found = checks(raw)["connections"]
    assert found.summary == f"{used}/{limit} ({100 * used / limit:.0f} %)"
    assert found.status == ("red" if used >= 0.9 * limit else "yellow")
    assert checks(raw, connection_limit=100)["connections"].status == "green"
    assert all(conn.closed for conn in held)


def test_a_session_without_ssl_is_red_when_ssl_is_required(scratch):
    db = scratch("source")
    with psycopg.connect(sandbox_urls()["source"], dbname=db, sslmode="disable", autocommit=True) as conn:
        raw = raw_health(conn)
    assert raw["ssl"] is False and raw["ssl_version"] is None
    assert checks(raw, ssl_required=True)["ssl"].status == "red"
    assert checks(raw, ssl_required=False)["ssl"].status == "yellow"


def test_large_unused_indexes_and_dead_tuples(scratch):
    db = scratch()
    with admin(db) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, v int) WITH (autovacuum_enabled = off)")
        conn.execute("CREATE INDEX t_v_idx ON t (v)")
        conn.execute("INSERT INTO t SELECT g, g FROM generate_series(1, 2000) g")
        conn.execute("DELETE FROM t WHERE id > 100")
    with admin(db) as conn:  # the writer has closed: its statistics are flushed
        raw = raw_health(conn, unused_index_mb=0)
    lenient = Thresholds(unused_index_mb=0, bloat_waste_mb=0)
    found = checks(raw, lenient)
    assert found["unused indexes"].status == "yellow"
    assert [i["index"] for i in raw["unused_indexes"]] == ["public.t_v_idx"]  # never the primary key
    assert found["bloat"].status == "yellow" and found["bloat"].details[0].startswith(
        "public.t: 1,900 dead vs 100 live"
    )
    assert (
        checks(raw)["bloat"].status == "green" and checks(raw)["unused indexes"].status == "green"
    )  # too small by default


def test_pg_stat_statements_is_detected_and_its_outliers_guarded(scratch):
    db = scratch()
    with admin(db) as conn:
        assert raw_health(conn)["has_pg_stat_statements"] is False
        conn.execute("CREATE EXTENSION pg_stat_statements")
        raw = raw_health(conn)
        assert raw["has_pg_stat_statements"] is True and raw["pg_stat_statements_schema"] == "public"
        try:
            raw["outliers"] = json.loads(conn.execute(outliers_sql("public", raw["server_version_num"])).fetchone()[0])
        except psycopg.Error as exc:  # not in shared_preload_libraries: the operation reports, never fails
            assert "pg_stat_statements" in str(exc)
            raw["outliers"] = {"error": str(exc).splitlines()[0]}
    assert checks(raw)["outliers"].status == "green"


def test_through_the_run_session_as_the_deploy_reads_it_with_ssl_and_no_secret_in_the_report(scratch, monkeypatch):
    db = scratch()
    url = parse_database_url(sandbox_urls()["target"])
    params = {**url.service_params(), "dbname": db}
    service_file = ServiceFile({"target": params})
    env = dict(os.environ)
    service_file.install(env)
    monkeypatch.setenv("PGSERVICEFILE", env["PGSERVICEFILE"])
    try:
        raw = read(HealthSnapshot, "target", Thresholds().sql())
    finally:
        sessions.close_all()
        sessions.forget()
        service_file.remove()
    assert isinstance(raw, dict), raw
    assert raw["database"] == db and raw["ssl"] is True and raw["ssl_version"].startswith("TLS")
    found = evaluate(raw, Thresholds(), None, ssl_required=True)
    assert {c.name: c.status for c in found}["ssl"] == "green"
    assert {c.name: c.status for c in found}["blocking"] == "green"
    document = json.loads(json.dumps(report_document(raw, found)))
    assert {c["name"] for c in document["checks"]} >= {"connections", "ssl", "blocking", "sequences", "xid wraparound"}
    assert document["figures"]["database"] == db
    text = json.dumps(document) + "\n".join(render(found, color=True))
    for password in passwords():
        assert password not in text
