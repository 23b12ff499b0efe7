"""
The target's facts about the tables pending statements touch (read-only, in the facts session):
size with indexes and TOAST (``pg_total_relation_size``), estimated rows (``reltuples``), write
activity (``pg_stat_user_tables``' inserts, updates and deletes over the time its counters cover)
and the sessions holding a lock on it now. A table the target does not have (created in this run)
has no row. A table with partitions or inheritance children is the sum of all of them, every level (a
recursive walk of ``pg_inherits``): its size, rows and writes (a partitioned parent has no counters of
its own). The SQL is
built here, the parsing is pure; :func:`tasks.facts.read` runs it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from psycopg import sql

SIZES_SQL = """
SELECT t.name, format('%I.%I', n.nspname, c.relname), coalesce(p.bytes, pg_total_relation_size(c.oid)),
       coalesce(p.tuples, c.reltuples::bigint),
       coalesce(p.writes, s.n_tup_ins + s.n_tup_upd + s.n_tup_del, 0),
       extract(epoch FROM now() - coalesce(d.stats_reset, pg_postmaster_start_time()))::bigint,
       (SELECT count(DISTINCT l.pid) FROM pg_locks l
         WHERE l.relation = c.oid AND l.granted AND l.pid <> pg_backend_pid()),
       coalesce((SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord)
                   FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                  WHERE i.indrelid = c.oid AND i.indisprimary), ''),
       coalesce(p.heap, pg_relation_size(c.oid)) = 0 AND coalesce(p.live, s.n_live_tup, 0) = 0,
       (SELECT json_agg(a.attname) FROM pg_attribute a
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)::text,
       c.relkind = 'p', CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) ELSE '' END,
       c.relkind <> 'p' AND coalesce(p.members, 1) > 1
  FROM unnest({names}::text[]) AS t(name)
  JOIN pg_class c ON c.oid = to_regclass(t.name)
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
  LEFT JOIN LATERAL (WITH RECURSIVE tree(relid) AS (
                       SELECT c.oid UNION SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.relid)
                     SELECT sum(pg_total_relation_size(r.relid))::bigint AS bytes,
                            sum(pg_relation_size(r.relid))::bigint AS heap,
                            (sum(greatest(k.reltuples, 0)) FILTER (WHERE k.relkind <> 'p'))::bigint AS tuples,
                            sum(coalesce(ps.n_live_tup, 0)) AS live,
                            sum(coalesce(ps.n_tup_ins + ps.n_tup_upd + ps.n_tup_del, 0))::bigint AS writes,
                            count(*) AS members
                       FROM tree r JOIN pg_class k ON k.oid = r.relid
                       LEFT JOIN pg_stat_user_tables ps ON ps.relid = r.relid) p ON c.relhassubclass OR c.relkind = 'p'
  JOIN pg_stat_database d ON d.datname = current_database()
"""


@dataclass(frozen=True)
class TableSize:
    name: str  # as the migration wrote it
    regclass: str  # the table the name resolves to on the target, schema-qualified and quoted as SQL needs
    bytes: int
    rows: int  # estimated; -1: never vacuumed or analyzed
    writes: int  # inserts + updates + deletes since the counters began
    seconds: int  # how long the counters cover
    lockers: int  # other sessions holding a lock on it now
    key: str = ""  # the primary key's columns, quoted, comma-separated ('' : none)
    empty: bool = False  # no row: its heap has no page (whatever its indexes' size)
    columns: tuple[str, ...] = ()  # its columns' names
    partitioned: bool = False  # a partitioned table (its rows are its partitions')
    partkey: str = ""  # a partitioned table's key (pg_get_partkeydef: RANGE (id))
    inherited: bool = False  # a plain table with inheritance children (summed in its size, rows and writes)

    @property
    def writes_per_s(self) -> float:
        return self.writes / self.seconds if self.seconds > 0 else 0.0

    @property
    def megabytes(self) -> float:
        return self.bytes / 1024 / 1024


def sizes_sql(names: list[str]) -> str:
    """The query for these tables (names as SQL writes them: ``to_regclass`` reads them)."""
    return sql.SQL(SIZES_SQL).format(names=sql.Literal(sorted(set(names)))).as_string(None)


def parse_sizes(rows: list[list[str]]) -> dict[str, TableSize]:
    found = {}
    for name, regclass, size, tuples, writes, seconds, lockers, key, empty, columns, partitioned, partkey, kids in rows:
        found[name] = TableSize(
            name,
            regclass,
            int(size),
            int(tuples),
            int(writes),
            int(seconds),
            int(lockers),
            key,
            empty == "t",
            tuple(json.loads(columns or "[]")),
            partitioned == "t",
            partkey or "",
            kids == "t",
        )
    return found


def human_bytes(value: float) -> str:
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit in ("bytes", "kB") else f"{value:.1f} {unit}"
        value /= 1024
    return ""  # pragma: no cover


def human_rows(rows: int) -> str:
    if rows < 0:
        return "rows unknown (never analyzed)"
    if rows >= 1_000_000:
        return f"{rows / 1_000_000:.0f} M rows"
    if rows >= 10_000:
        return f"{rows / 1000:.0f} k rows"
    return f"{rows} rows"
