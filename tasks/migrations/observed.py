"""
The history is the tool's alone, observed rather than parsed: before each file a digest of
``public.schema_migrations`` (the table's identity, owner and privileges, its row versions read ``FROM ONLY``,
and the absence of child tables, rules, triggers and views on it), and after the file's statements,
inside its transaction and in the same message, a check that it is unchanged. A file that changes the
history in any way (a DO block, dynamic SQL, a function, a writable view, a trigger, a child table,
a REVOKE, DROP OWNED, a renamed schema) is refused by name and rolled back, in the proof first.
"""

from __future__ import annotations

import hashlib

import psycopg
from psycopg import sql

HISTORY_CHANGED = "PGCHC"  # the SQLSTATE the check raises

# One text: "oid|owner|acl|children|rules|triggers|views|definition|count|sum" ("absent" when the table
# is gone). The definition is the table's columns (types, NOT NULL, defaults, column privileges, dropped
# ones), constraints, indexes, policies, row security, persistence and whether it is a partition: a file
# that alters the table (a default that runs code on the tool's INSERT, a dropped column or key, a
# column GRANT, a policy hiding rows, ATTACH PARTITION) is caught like one that changes its rows.
# The sum is of a hash of each row version's key and writing transaction (version, xmin), not of its
# text: any INSERT, UPDATE or DELETE, by the file or another session, makes a new version or removes
# one, while VACUUM FULL or CLUSTER (which move rows) do not change it; reading them is a scan that
# prints no row; and a sum can be carried forward past the tool's own row (:func:`after_record`), so a
# file's closing reads the history once, in its check.
ROW_MARK = "version::text || ':' || xmin::text"  # a row version, as the tool's INSERT ... RETURNING gives it
_ROW_HASH = "('x' || pg_catalog.substr(pg_catalog.md5(h.version::text || ':' || h.xmin::text), 1, 15))::bit(60)::bigint"
_DEFINITION = (
    "pg_catalog.md5(c.relkind::text || c.relpersistence::text || c.relrowsecurity::text "
    "|| c.relforcerowsecurity::text || c.relispartition::text || '|' "
    "|| coalesce((SELECT pg_catalog.string_agg(a.attnum::text || ':' || a.attname::text || ':' || a.atttypid::text "
    "|| ':' || a.atttypmod::text || ':' || a.attnotnull::text || ':' || a.attisdropped::text || ':' "
    "|| coalesce(a.attacl::text, '') || ':' || coalesce(ad.adbin::text, ''), ',' "
    "ORDER BY a.attnum) FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef ad "
    "ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum WHERE a.attrelid = c.oid AND a.attnum > 0), '') || '|' "
    "|| coalesce((SELECT pg_catalog.string_agg(k.conname::text || ':' || k.contype::text || k.convalidated::text "
    "|| coalesce(k.conkey::text, '') || coalesce(k.confkey::text, '') || coalesce(k.conbin::text, ''), ',' "
    "ORDER BY k.conname) FROM pg_catalog.pg_constraint k WHERE k.conrelid = c.oid), '') || '|' "
    "|| coalesce((SELECT pg_catalog.string_agg(s.d, ',' ORDER BY s.d) FROM (SELECT x.indkey::text "
    "|| x.indisunique::text || x.indisprimary::text || coalesce(x.indexprs::text, '') "
    "|| coalesce(x.indpred::text, '') AS d FROM pg_catalog.pg_index x WHERE x.indrelid = c.oid) s), '') || '|' "
    "|| (SELECT count(*) FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid)::text)"
)


def _digest_sql(definition: bool) -> str:
    return (
        "SELECT CASE WHEN pg_catalog.to_regclass('public.schema_migrations') IS NULL THEN 'absent' ELSE ("
        "SELECT c.oid::text || '|' || c.relowner::text || '|' || coalesce(c.relacl::text, '') || '|' "
        "|| (SELECT count(*) FROM pg_catalog.pg_inherits i WHERE i.inhparent = c.oid)::text || '|' "
        "|| (SELECT count(*) FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid)::text || '|' "
        "|| (SELECT count(*) FROM pg_catalog.pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal)::text || '|' "
        "|| (SELECT count(*) FROM pg_catalog.pg_depend d WHERE d.refobjid = c.oid "
        "AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass "
        "AND d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass)::text || '|' "
        + (f"|| {_DEFINITION} || '|' " if definition else "")
        + f"|| (SELECT count(*)::text || '|' || coalesce(pg_catalog.sum({_ROW_HASH}), 0)::text "
        "FROM ONLY public.schema_migrations h) "
        "FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass('public.schema_migrations')) END"
    )


# Checked in each file's transaction on the target (about 1 ms a file less than the full one): the
# table's identity, owner, privileges, children, rules, triggers, views and rows.
DIGEST_SQL = _digest_sql(definition=False)
# Checked in each file's transaction in the proof, where a file's own change is caught before the target
# is touched; on the target, the definition is compared at the start and the end of the run.
FULL_DIGEST_SQL = _digest_sql(definition=True)
DEFINITION_SQL = (
    "SELECT CASE WHEN pg_catalog.to_regclass('public.schema_migrations') IS NULL THEN 'absent' ELSE ("
    f"SELECT {_DEFINITION} FROM pg_catalog.pg_class c "
    "WHERE c.oid = pg_catalog.to_regclass('public.schema_migrations')) END"
)


def definition(conn: psycopg.Connection) -> str:
    """The history table's definition now (its columns, constraints, indexes, policies, row security)."""
    row = conn.execute(DEFINITION_SQL).fetchone()
    return str(row[0]) if row else "absent"


# What on the history table would run code when the tool writes it, or hide or redirect its rows:
# present before the run, it was made outside the tool (the proof's shadow never has one).
HAZARDS_SQL = (
    "SELECT 'trigger ' || pg_catalog.quote_ident(t.tgname::text) FROM pg_catalog.pg_trigger t "
    "WHERE t.tgrelid = 'public.schema_migrations'::pg_catalog.regclass AND NOT t.tgisinternal "
    "UNION ALL SELECT 'rule ' || pg_catalog.quote_ident(r.rulename::text) FROM pg_catalog.pg_rewrite r "
    "WHERE r.ev_class = 'public.schema_migrations'::pg_catalog.regclass "
    "UNION ALL SELECT 'child table ' || i.inhrelid::pg_catalog.regclass::text FROM pg_catalog.pg_inherits i "
    "WHERE i.inhparent = 'public.schema_migrations'::pg_catalog.regclass "
    "UNION ALL SELECT 'policy ' || pg_catalog.quote_ident(p.polname::text) FROM pg_catalog.pg_policy p "
    "WHERE p.polrelid = 'public.schema_migrations'::pg_catalog.regclass "
    "UNION ALL SELECT 'partition of ' || i.inhparent::pg_catalog.regclass::text FROM pg_catalog.pg_inherits i "
    "WHERE i.inhrelid = 'public.schema_migrations'::pg_catalog.regclass ORDER BY 1"
)


def hazards(conn: psycopg.Connection) -> list[str]:
    """The triggers, rules, child tables, policies and parent of the history table (none is the tool's)."""
    return [str(row[0]) for row in conn.execute(HAZARDS_SQL).fetchall()]


def hazard_message(found: list[str]) -> str:
    return (
        f"the tool's history table public.schema_migrations has {', '.join(found)}, which the tool did not make: "
        "it would run or redirect when the tool records a migration; only the tool writes its history: "
        "drop or detach it, then run again"
    )


def changed_during_run_message(last: str) -> str:
    return (
        "the tool's history table public.schema_migrations was changed during this run outside its files' "
        "checks (by another session, or by a file that does on the target what it did not do in the proof); "
        f"the files up to {last} are recorded: only the tool writes its history: find what changed it "
        "(pg_stat_activity, a file's condition on the database), then run again"
    )


def digest(conn: psycopg.Connection, full: bool = False) -> str:
    """The history's digest now (one short query); ``full``: with the table's definition (the proof's)."""
    row = conn.execute(FULL_DIGEST_SQL if full else DIGEST_SQL).fetchone()
    return str(row[0]) if row else "absent"


def row_hash(mark: str) -> int:
    """Pure: a row version's share of the digest's sum (``mark``: its :data:`ROW_MARK`), as the SQL computes it."""
    return int(hashlib.md5(mark.encode()).hexdigest()[:15], 16)


def after_record(before: str, mark: str) -> str:
    """Pure: the digest once the tool's own row ``mark`` is added to a history whose digest was ``before``
    (checked equal in the same transaction, so nothing else changed it): count + 1, its hash added."""
    catalog, count, total = before.rsplit("|", 2)
    return f"{catalog}|{int(count) + 1}|{int(total) + row_hash(mark)}"


def check_sql(expected: str, full: bool = False) -> str:
    """A DO block that raises :data:`HISTORY_CHANGED` unless the history's digest is ``expected``
    (the table's reading goes through EXECUTE, so a file that dropped it is caught, not an error)."""
    body = sql.SQL(
        "DO $pgconverge_history$DECLARE now_is text; BEGIN BEGIN EXECUTE {query} INTO now_is; "
        "EXCEPTION WHEN undefined_table OR undefined_column THEN now_is := 'absent'; END; "
        "IF now_is IS DISTINCT FROM {expected} THEN RAISE EXCEPTION 'the history table was changed' "
        "USING ERRCODE = {code}; END IF; END$pgconverge_history$"
    ).format(
        query=sql.Literal(FULL_DIGEST_SQL if full else DIGEST_SQL),
        expected=sql.Literal(expected),
        code=sql.Literal(HISTORY_CHANGED),
    )
    return body.as_string(None)


def changed_message(filename: str, kept: bool) -> str:
    state = "statements before the check were kept" if kept else "nothing of it was kept"
    return (
        f"migration {filename}: the file changed the tool's history table public.schema_migrations (its rows, "
        "its definition, owner or privileges, or a child table, rule, trigger, policy or view on it, or it "
        f"dropped or moved the table): {state}; only the tool writes its history: remove what touches "
        "schema_migrations from the file and run again (if nothing in it does, another session changed the "
        "table while the file ran: find it in pg_stat_activity)"
    )
