"""Health checks: each colour boundary of :func:`tasks.health.checks.evaluate`, :func:`render`, and the health
query's thresholds as SQL literals (:func:`tasks.health.query.health_sql`) (pure)."""

import json

import pytest

from tasks.health.checks import Thresholds, evaluate, render, report_document
from tasks.health.query import HIDDEN, health_sql

GiB = 1024 ** 3


def raw(**changes) -> dict:
    """A healthy database, with ``changes`` on top."""
    base = {
        "server_version": "15.18 (Debian 15.18-0+deb12u1)", "server_version_num": 150018, "database": "app",
        "ssl": True, "ssl_version": "TLSv1.3", "database_bytes": 8 * 1024 * 1024, "tables": 4, "estimated_rows": 2000,
        "connections": 3, "max_connections": 20,
        "table_blocks_hit": 0, "table_blocks_read": 0, "index_blocks_hit": 0, "index_blocks_read": 0,
        "table_hit_rate": None, "index_hit_rate": None,
        "long_queries": [], "idle_in_transaction": [], "blocking": [], "sequences": [], "unused_indexes": [],
        "bloat": [], "xid_age": 1000, "autovacuum_freeze_max_age": 200_000_000,
        "has_pg_stat_statements": False, "pg_stat_statements_schema": None,
    }
    base.update(changes)
    return base


def status(name: str, data: dict, **kwargs) -> str:
    checks = {c.name: c for c in evaluate(data, kwargs.pop("thresholds", Thresholds()), **kwargs)}
    return checks[name].status


def check(name: str, data: dict, **kwargs):
    return {c.name: c for c in evaluate(data, Thresholds(), **kwargs)}[name]


def test_healthy_database_is_all_green():
    checks = evaluate(raw(), Thresholds(), None, True)
    assert {c.status for c in checks} == {"green"}
    assert [c.name for c in checks][:3] == ["server", "ssl", "connections"]
    assert check("server", raw()).summary == "PostgreSQL 15.18, 8.0 MB, 4 tables, ~2,000 rows"


@pytest.mark.parametrize("used, limit, expected", [
    (14, None, "green"), (15, None, "yellow"), (17, None, "yellow"), (18, None, "red"), (20, None, "red"),
    (15, 40, "green"), (30, 40, "yellow"), (36, 40, "red"),
])
def test_connections(used, limit, expected):
    assert status("connections", raw(connections=used), connection_limit=limit) == expected


def test_connection_limit_overrides_max_connections():
    assert check("connections", raw(connections=3), connection_limit=40).summary == "3/40 (8 %)"
    assert check("connections", raw(connections=3)).summary == "3/20 (15 %)"


@pytest.mark.parametrize(
    "ssl, required, expected", [(True, True, "green"), (False, True, "red"), (False, False, "yellow")]
)
def test_ssl(ssl, required, expected):
    assert status("ssl", raw(ssl=ssl), ssl_required=required) == expected


def session(seconds, query="SELECT pg_sleep(600)", pid=42):
    return {"pid": pid, "application": "web", "seconds": seconds, "query": query}


@pytest.mark.parametrize(
    "key, name", [("long_queries", "long queries"), ("idle_in_transaction", "idle in transaction")]
)
@pytest.mark.parametrize("seconds, expected", [(60, "green"), (61, "yellow"), (300, "yellow"), (301, "red")])
def test_sessions(key, name, seconds, expected):
    assert status(name, raw(**{key: [session(seconds)]})) == expected


def test_session_thresholds_are_settable_and_listed_with_pid_and_query():
    data = raw(long_queries=[session(5.2, pid=7)])
    found = {c.name: c for c in evaluate(data, Thresholds(long_query_s=1))}["long queries"]
    assert found.status == "yellow" and found.summary == "1 active over 1 s (longest 5 s)"
    assert found.details == ["pid 7 (web) 5 s: SELECT pg_sleep(600)"]
    # a yellow threshold above the red one: red only past the yellow one
    assert status("long queries", raw(long_queries=[session(400)]), thresholds=Thresholds(long_query_s=600)) == "green"
    assert status("long queries", raw(long_queries=[session(700)]), thresholds=Thresholds(long_query_s=600)) == "red"


def test_a_query_that_may_hold_a_secret_is_hidden():
    data = raw(idle_in_transaction=[session(90, query="ALTER ROLE app PASSWORD 'hunter2hunter2'")])
    assert check("idle in transaction", data).details == [f"pid 42 (web) 90 s: {HIDDEN}"]


def test_blocking_is_red_and_names_both_pids():
    pair = {
        "blocked_pid": 11,
        "blocked_application": "",
        "blocked_seconds": 3,
        "blocked_query": "SELECT * FROM t",
        "blocking_pid": 10,
        "blocking_application": "",
        "blocking_state": "idle in transaction",
        "blocking_query": "LOCK TABLE t",
    }
    found = check("blocking", raw(blocking=[pair]))
    assert found.status == "red" and found.summary == "1 session blocked by pid 10"
    assert "pid 11" in found.details[0] and "pid 10" in found.details[0]


@pytest.mark.parametrize("rate, expected", [(0.99, "green"), (0.9899, "yellow"), (0.90, "yellow"), (0.8999, "red")])
def test_cache_hit(rate, expected):
    reads = 1_000_000  # over 100 passes over the 8 MB database
    data = raw(
        table_blocks_hit=int(reads * rate),
        table_blocks_read=reads - int(reads * rate),
        table_hit_rate=rate,
        index_blocks_hit=reads,
        index_blocks_read=0,
        index_hit_rate=1.0,
    )
    assert status("cache hit", data) == expected


def test_cache_hit_is_not_judged_without_reads_or_with_too_few():
    assert check("cache hit", raw()).summary == "table no reads yet, index no reads yet"
    few = check("cache hit", raw(table_blocks_hit=50, table_blocks_read=50, table_hit_rate=0.5))
    assert few.status == "green" and "too few reads" in few.summary
    # a bulk load of a 1 GB database reads it a few times: not yet 100 passes over its blocks
    loaded = raw(database_bytes=1 << 30, table_blocks_hit=200_000, table_blocks_read=300_000, table_hit_rate=0.4)
    assert check("cache hit", loaded).status == "green" and "too few reads" in check("cache hit", loaded).summary


def sequence(percent):
    maximum = 2_147_483_647
    return {
        "sequence": "public.users_id_seq",
        "type": "integer",
        "last_value": int(maximum * percent / 100),
        "max_value": maximum,
        "percent": percent,
    }


@pytest.mark.parametrize(
    "percent, expected", [(74.99, "green"), (75, "yellow"), (89.99, "yellow"), (90, "red"), (100, "red")]
)
def test_sequences(percent, expected):
    assert status("sequences", raw(sequences=[sequence(percent)])) == expected


@pytest.mark.parametrize("size_mb, expected", [(64, "green"), (65, "yellow")])
def test_unused_indexes_are_at_most_yellow(size_mb, expected):
    index = {"index": "public.big_idx", "table": "public.t", "bytes": size_mb * 1024 * 1024}
    assert status("unused indexes", raw(unused_indexes=[index])) == expected


@pytest.mark.parametrize(
    "live, dead, wasted_mb, expected",
    [
        (100, 900, 500, "green"),  # factor (live + dead) / live = 10: not over 10
        (100, 901, 65, "yellow"),  # factor 10.01 and 65 MB wasted
        (100, 5000, 64, "green"),  # factor 51, but only 64 MB wasted
    ],
)
def test_bloat(live, dead, wasted_mb, expected):
    row = {"table": "public.t", "live": live, "dead": dead, "bytes": GiB, "wasted_bytes": wasted_mb * 1024 * 1024}
    assert status("bloat", raw(bloat=[row])) == expected


@pytest.mark.parametrize(
    "age, expected", [(99_999_999, "green"), (100_000_000, "yellow"), (179_999_999, "yellow"), (180_000_000, "red")]
)
def test_xid_wraparound(age, expected):
    assert status("xid wraparound", raw(xid_age=age)) == expected


def test_outliers_are_informational():
    assert check("outliers", raw()).summary == "pg_stat_statements is not installed"
    data = raw(
        has_pg_stat_statements=True,
        pg_stat_statements_schema="public",
        outliers=[{"total_ms": 1234.5, "calls": 10, "mean_ms": 123.45, "query": "SELECT $1"}],
    )
    found = check("outliers", data)
    assert found.status == "green" and found.details == ["1,234 ms in 10 calls (123.5 ms each): SELECT $1"]
    unreadable = check("outliers", raw(has_pg_stat_statements=True, outliers={"error": "must be loaded"}))
    assert unreadable.status == "green" and "must be loaded" in unreadable.summary


def test_render_one_line_per_check_with_details_and_colour_only_when_asked():
    checks = evaluate(raw(connections=19, sequences=[sequence(80)]), Thresholds())
    plain = render(checks, color=False)
    assert "red    connections          19/20 (95 %)" in plain
    assert "yellow sequences            1 at 75 % or more (highest 80.0 %)" in plain
    assert any(
        line.strip().startswith("public.users_id_seq (integer): 1,717,986,917 of 2,147,483,647") for line in plain
    )
    assert not any("\x1b[" in line for line in plain)
    coloured = render(checks, color=True)
    assert "\x1b[31mred   \x1b[0m connections          19/20 (95 %)" in coloured
    assert "\x1b[32mgreen \x1b[0m server" in coloured[0]


def test_report_document_is_json_and_worst_status():
    data = raw(blocking=[{"blocked_pid": 2, "blocking_pid": 1}])
    document = json.loads(json.dumps(report_document(data, evaluate(data))))
    assert document["status"] == "red"
    assert {c["name"]: c["status"] for c in document["checks"]}["blocking"] == "red"
    assert document["figures"]["max_connections"] == 20


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1, "1; DROP TABLE users", True, None])
def test_health_sql_takes_only_finite_numbers(bad):
    with pytest.raises(ValueError):
        health_sql(long_query_s=bad)


def test_health_sql_formats_numbers():
    text = health_sql(long_query_s=1, idle_s=2.5, sequence_pct=80, unused_index_mb=0)
    assert "query_s > 1.000" in text and "state_s > 2.500" in text and ">= 80.000" in text
    with pytest.raises(ValueError):
        health_sql(sequence_pct=101)
