"""
The health query of a database, like ``heroku pg:diagnose`` and ``pg:info`` (read-only, pure).

:func:`health_sql` gives ONE statement returning one row with one JSON column (the *raw* dict):
server version, SSL of this session, size, tables and estimated rows, connections, cache hit
rates, long-running queries, sessions idle in transaction, blocking pairs, sequences near their
maximum, large unused indexes, dead-tuple bloat, transaction-id age, and whether
``pg_stat_statements`` is installed (then :func:`outliers_sql` lists the top 5 by total time).
It runs the same through psycopg and ``psql -f -`` (the thresholds are numeric literals, no
variables). Activity checks cover the connected database and leave out the checking session.
Query texts are cut to 80 characters, and a text that may hold a secret (``PASSWORD``, connection strings...)
is replaced by ``(hidden)``; nothing else is read from ``pg_stat_activity`` (no client address, no user name).
Like ``pg:diagnose``, a role that is not a superuser (nor in ``pg_read_all_stats``) sees the state of its own
sessions only, and the values of the sequences it may read: other roles' sessions still count as connections
and in blocking pairs (``pg_blocking_pids``), but never as long or idle in transaction.
"""

from __future__ import annotations

import math

HIDDEN = "(hidden)"
# A query text matching this may carry a secret: it is never shown, not even its start.
SECRET_PATTERN = r"(passw(or)?d|secret|token|conninfo|dblink|user mapping|subscription|sslkey|(un)?encrypted)"


def _literal(name: str, value: float, maximum: float = 1e12) -> str:
    """A safe SQL numeric literal: a finite, non-negative real number (never a string)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, not {type(value).__name__}")  # noqa: TRY004
    value = float(value)
    if not math.isfinite(value) or value < 0 or value > maximum:
        raise ValueError(f"{name} must be between 0 and {maximum:g}, not {value!r}")
    return f"{value:.3f}"


def _shown_query(column: str) -> str:
    return (
        f"CASE WHEN {column} IS NULL THEN NULL WHEN {column} ~* '{SECRET_PATTERN}' THEN '{HIDDEN}' "
        f"ELSE left(regexp_replace({column}, '\\s+', ' ', 'g'), 80) END"
    )


def health_sql(
    long_query_s: float = 60.0, idle_s: float = 60.0, sequence_pct: float = 75.0, unused_index_mb: float = 64.0
) -> str:
    """The health query; the thresholds only limit which sessions, sequences and indexes are listed."""
    long_query = _literal("long_query_s", long_query_s)
    idle = _literal("idle_s", idle_s)
    sequence = _literal("sequence_pct", sequence_pct, 100)
    index_bytes = _literal("unused_index_mb", unused_index_mb)
    return f"""
WITH
act AS (
    SELECT pid, state, left(coalesce(application_name, ''), 64) AS application,
           round(extract(epoch FROM now() - query_start)::numeric, 1) AS query_s,
           round(extract(epoch FROM now() - state_change)::numeric, 1) AS state_s,
           {_shown_query("query")} AS query
      FROM pg_stat_activity
     WHERE datname = current_database() AND pid <> pg_backend_pid()
),
blocking AS (
    SELECT a.pid AS blocked_pid, a.application AS blocked_application, a.query_s AS blocked_seconds,
           a.query AS blocked_query, b.pid AS blocking_pid, b.application AS blocking_application,
           b.state AS blocking_state, b.query AS blocking_query
      FROM act a CROSS JOIN LATERAL unnest(pg_blocking_pids(a.pid)) AS held(pid)
      LEFT JOIN act b ON b.pid = held.pid
),
statio AS (
    SELECT sum(heap_blks_hit) AS heap_hit, sum(heap_blks_read) AS heap_read,
           sum(idx_blks_hit) AS idx_hit, sum(idx_blks_read) AS idx_read
      FROM pg_statio_user_tables
),
tables AS (
    SELECT c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p')
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_heroku', 'heroku_ext')
       AND n.nspname NOT LIKE 'pg\\_%'
),
statements AS (
    SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'pg_stat_statements'
)
SELECT jsonb_build_object(
  'server_version', current_setting('server_version'),
  'server_version_num', current_setting('server_version_num')::int,
  'database', current_database(),
  'ssl', coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false),
  'ssl_version', (SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()),
  'database_bytes', pg_database_size(current_database()),
  'tables', (SELECT count(*) FROM tables),
  'estimated_rows', (SELECT coalesce(sum(greatest(reltuples, 0)), 0)::bigint FROM tables),
  'connections', (SELECT count(*) FROM pg_stat_activity
                   WHERE datname IS NOT NULL AND coalesce(backend_type, 'client backend') = 'client backend'),
  'max_connections', current_setting('max_connections')::int,
  'table_blocks_hit', (SELECT coalesce(heap_hit, 0) FROM statio),
  'table_blocks_read', (SELECT coalesce(heap_read, 0) FROM statio),
  'index_blocks_hit', (SELECT coalesce(idx_hit, 0) FROM statio),
  'index_blocks_read', (SELECT coalesce(idx_read, 0) FROM statio),
  'table_hit_rate', (SELECT round(heap_hit / nullif(heap_hit + heap_read, 0), 4) FROM statio),
  'index_hit_rate', (SELECT round(idx_hit / nullif(idx_hit + idx_read, 0), 4) FROM statio),
  'long_queries', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                          'pid', pid, 'application', application, 'seconds', query_s, 'query', query)
                          ORDER BY query_s DESC), '[]')
                     FROM act WHERE state = 'active' AND query_s > {long_query}),
  'idle_in_transaction', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                 'pid', pid, 'application', application, 'seconds', state_s, 'query', query)
                                 ORDER BY state_s DESC), '[]')
                            FROM act WHERE state LIKE 'idle in transaction%' AND state_s > {idle}),
  'blocking', (SELECT coalesce(jsonb_agg(to_jsonb(b) ORDER BY b.blocked_pid, b.blocking_pid), '[]') FROM blocking b),
  'sequences', (SELECT coalesce(jsonb_agg(to_jsonb(q) ORDER BY q.percent DESC), '[]') FROM (
                  SELECT format('%I.%I', schemaname, sequencename) AS sequence, data_type::text AS type,
                         last_value, max_value, round(100.0 * last_value / max_value, 2) AS percent
                    FROM pg_sequences
                   WHERE last_value IS NOT NULL AND increment_by > 0 AND max_value > 0
                     AND 100.0 * last_value / max_value >= {sequence}
                   ORDER BY 100.0 * last_value / max_value DESC LIMIT 20) q),
  'unused_indexes', (SELECT coalesce(jsonb_agg(to_jsonb(u) ORDER BY u.bytes DESC), '[]') FROM (
                  SELECT format('%I.%I', s.schemaname, s.indexrelname) AS index,
                         format('%I.%I', s.schemaname, s.relname) AS table, pg_relation_size(s.indexrelid) AS bytes
                    FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
                   WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary AND NOT i.indisexclusion
                     AND pg_relation_size(s.indexrelid) > {index_bytes} * 1048576
                   ORDER BY pg_relation_size(s.indexrelid) DESC LIMIT 20) u),
  'bloat', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.wasted_bytes DESC), '[]') FROM (
                  SELECT format('%I.%I', schemaname, relname) AS table, n_live_tup AS live, n_dead_tup AS dead,
                         pg_table_size(relid) AS bytes,
                         (pg_table_size(relid)::float8 * n_dead_tup / (n_live_tup + n_dead_tup))::bigint AS wasted_bytes
                    FROM pg_stat_user_tables WHERE n_dead_tup > 0
                   ORDER BY 5 DESC LIMIT 10) t),
  'xid_age', (SELECT age(datfrozenxid) FROM pg_database WHERE datname = current_database()),
  'autovacuum_freeze_max_age', current_setting('autovacuum_freeze_max_age')::bigint,
  'has_pg_stat_statements', EXISTS (SELECT 1 FROM statements),
  'pg_stat_statements_schema', (SELECT nspname FROM statements)
)::text
"""


HEALTH_SQL = health_sql()


def outliers_sql(schema: str = "public", server_version_num: int = 130000) -> str:
    """Top 5 statements of this database by total time, as one JSON array (needs ``pg_stat_statements``)."""
    quoted = '"' + schema.replace('"', '""') + '"'
    total, mean = ("total_exec_time", "mean_exec_time") if server_version_num >= 130000 else ("total_time", "mean_time")
    return f"""
SELECT coalesce(jsonb_agg(to_jsonb(o) ORDER BY o.total_ms DESC), '[]')::text FROM (
    SELECT round({total}::numeric, 1) AS total_ms, calls, round({mean}::numeric, 2) AS mean_ms,
           {_shown_query("query")} AS query
      FROM {quoted}.pg_stat_statements
     WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
     ORDER BY {total} DESC LIMIT 5) o
"""


OUTLIERS_SQL = outliers_sql()
