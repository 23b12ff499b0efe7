"""
The copy's journal in the target (schema ``pgconverge``): what a copy has set aside and how far it
got, written in the same transactions as the changes it describes, so that a kill at any moment
leaves a state a rerun finishes.

* ``copy_ranges``: the ranges a big table is copied in (:mod:`tasks.data.ranges`), each marked done
  with its rows and the source's checksum in the transaction that copied it. A rerun copies only
  the ranges not done; once the whole table is verified its rows are deleted.
* ``copy_set_aside``: the secondary indexes and foreign keys dropped (and the user triggers disabled)
  before a table's load, each with the statement that makes it again, recorded in the transaction
  that drops it and deleted in the transaction that puts it back (a foreign key: added ``NOT
  VALID``, then deleted with its ``VALIDATE``; a key or check ``NOT VALID`` in the schema: added back
  as it is, never validated). What its statement would not make again exactly stays in place.
  Then (:func:`set_aside_keys`, in the same transaction, once the foreign keys of the big tables that
  reference it are aside too) its primary key and unique constraints and indexes, so the rows go
  into a heap with no index, as ``pg_restore`` loads them. A constraint is two entries:
  ``keyindex`` (its unique index, built with the other indexes, then marked ``added``) and ``key``
  (``ADD CONSTRAINT … USING INDEX``, a quick step that deletes both).
  A key stays in place while a foreign key still rests on it (one of a table that keeps its keys
  during its load: a small one, a partition's), and so do an exclusion constraint, a partition's key
  (inherited from its parent's), the key of ``REPLICA IDENTITY`` (``USING INDEX``, or the primary key
  of a table in a publication) and a key with what its statement would not give back.

The schema is made by the first copy that needs it and dropped when both tables are empty; the
schema check leaves it out (:mod:`tasks.schema.catalog`'s snapshot) and takes what it lists as
set aside, not as drift.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

SCHEMA = "pgconverge"
CREATE_SQL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.copy_ranges (
    tbl text NOT NULL, n int NOT NULL, kind text NOT NULL, col text, lo bigint, hi bigint,
    done boolean NOT NULL DEFAULT false, rows bigint, checksum text, rel oid, PRIMARY KEY (tbl, n));
ALTER TABLE {SCHEMA}.copy_ranges ADD COLUMN IF NOT EXISTS rel oid;
CREATE TABLE IF NOT EXISTS {SCHEMA}.copy_set_aside (
    tbl text NOT NULL, name text NOT NULL, kind text NOT NULL, catalog_name text NOT NULL,
    create_sql text NOT NULL, added boolean NOT NULL DEFAULT false, con oid, PRIMARY KEY (tbl, name));
ALTER TABLE {SCHEMA}.copy_set_aside ADD COLUMN IF NOT EXISTS con oid
"""
# Whether a table has a NOT VALID constraint: the source's rows may break it, so it is added after them.
NOT_VALID_SQL = """
SELECT EXISTS (SELECT FROM pg_constraint WHERE conrelid = %s::regclass AND NOT convalidated AND conparentid = 0
                  AND contype IN ('f', 'c') AND conislocal AND coninhcount = 0)
"""
EXISTS_SQL = (
    f"SELECT to_regclass('{SCHEMA}.copy_set_aside') IS NOT NULL AND to_regclass('{SCHEMA}.copy_ranges') IS NOT NULL"
)
# with the columns of the tables' and foreign keys' oids (a journal an earlier version made gets them in ready())
CURRENT_SQL = EXISTS_SQL + (
    f" AND EXISTS (SELECT FROM pg_attribute WHERE attrelid = to_regclass('{SCHEMA}.copy_set_aside') "
    f"AND attname = 'con') AND EXISTS (SELECT FROM pg_attribute WHERE attrelid = to_regclass('{SCHEMA}.copy_ranges') "
    "AND attname = 'rel')"
)
# A table a migration renamed (or moved to another schema) since an earlier run left it half-copied, and a
# foreign key of it whose validation is due: the journal's entries follow them by oid, under the new name.
FOLLOW_SQL = f"""
UPDATE {SCHEMA}.copy_ranges r SET tbl = format('%I.%I', n.nspname, c.relname)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.oid = r.rel AND c.relkind IN ('r', 'p') AND r.tbl <> format('%I.%I', n.nspname, c.relname);
UPDATE {SCHEMA}.copy_set_aside j SET tbl = format('%I.%I', n.nspname, c.relname)
  FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE j.kind = 'fkey' AND k.oid = j.con AND j.tbl <> format('%I.%I', n.nspname, c.relname)
"""
# A foreign key added NOT VALID by the copy, its VALIDATE still due: its oid, recorded when the copy adds it
# (and when it adds it back after setting it aside once more: the 'notvalid' entry keeps the oid it dropped),
# so that one a migration renamed is still validated, one it dropped or declared again left as it made it.
OWN_KEY_SQL = f"""
UPDATE {SCHEMA}.copy_set_aside
   SET con = (SELECT oid FROM pg_constraint WHERE conrelid = %(t)s::regclass AND conname = %(c)s)
 WHERE kind = 'fkey' AND ((tbl = %(t)s AND name = 'fkey:' || %(c)s) OR con = (
       SELECT con FROM {SCHEMA}.copy_set_aside WHERE tbl = %(t)s AND name = %(n)s AND kind = 'notvalid'))
"""
# Where that foreign key is now, still NOT VALID (a migration may have renamed it or its table since):
# its table and name; none when it was dropped, declared again or validated since.
STILL_OURS_SQL = f"""
SELECT k.conrelid::regclass::text, k.conname::text
  FROM {SCHEMA}.copy_set_aside j JOIN pg_constraint k
    ON CASE WHEN j.con IS NULL THEN k.conrelid = to_regclass(j.tbl) AND k.conname = %(c)s ELSE k.oid = j.con END
 WHERE j.tbl = %(t)s AND j.name = %(n)s AND NOT k.convalidated
"""
# The secondary indexes (not a constraint's, not a partition's), the foreign keys, the NOT VALID checks
# and the enabled user triggers of one table: (name, kind, catalog name, drop, create). What its statement
# would not make again stays in place (built during the load): an index or key with a comment, an index
# with a statistics target, CLUSTER ON, a tablespace or REPLICA IDENTITY. A validated
# foreign key ('fkey') is added back NOT VALID, then validated; a NOT VALID one ('notvalid', and a NOT
# VALID check: the source's rows need not pass it) is added back as it is, never validated.
SET_ASIDE_SQL = """
SELECT CASE WHEN c.convalidated THEN 'fkey:' ELSE 'notvalid:' END || c.conname,
       CASE WHEN c.convalidated THEN 'fkey' ELSE 'notvalid' END,
       n.nspname || '.' || t.relname || '.' || c.conname,
       format('ALTER TABLE %%s DROP CONSTRAINT %%I', c.conrelid::regclass, c.conname),
       format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', c.conrelid::regclass, c.conname,
              pg_get_constraintdef(c.oid)) || CASE WHEN c.convalidated THEN ' NOT VALID' ELSE '' END, c.oid
  FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
 WHERE c.conrelid = %(table)s::regclass AND c.conparentid = 0
   AND (c.contype = 'f' OR (c.contype = 'c' AND NOT c.convalidated AND c.conislocal AND c.coninhcount = 0))
   AND obj_description(c.oid, 'pg_constraint') IS NULL
UNION ALL
SELECT 'index:' || x.relname, 'index', n.nspname || '.' || x.relname,
       format('DROP INDEX %%s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid), NULL::oid
  FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid JOIN pg_namespace n ON n.oid = x.relnamespace
 WHERE i.indrelid = %(table)s::regclass AND NOT i.indisunique AND NOT i.indisprimary
   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
   AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
   AND NOT i.indisclustered AND NOT i.indisreplident AND x.reltablespace = 0
   AND obj_description(i.indexrelid, 'pg_class') IS NULL
   AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = i.indexrelid AND coalesce(a.attstattarget, -1) >= 0)
UNION ALL
SELECT 'trigger:' || tg.tgname, 'trigger', n.nspname || '.' || t.relname || '.' || tg.tgname,
       format('ALTER TABLE %%s DISABLE TRIGGER %%I', tg.tgrelid::regclass, tg.tgname),
       format('ALTER TABLE %%s ENABLE %%s TRIGGER %%I', tg.tgrelid::regclass,
              CASE tg.tgenabled WHEN 'A' THEN 'ALWAYS' WHEN 'R' THEN 'REPLICA' ELSE '' END, tg.tgname), NULL::oid
  FROM pg_trigger tg JOIN pg_class t ON t.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = t.relnamespace
 WHERE tg.tgrelid = %(table)s::regclass AND NOT tg.tgisinternal AND tg.tgenabled <> 'D'
"""

# A table's primary key and unique constraints and unique indexes (run once its foreign keys are aside):
# (name, kind, catalog name, drop or NULL, create). A constraint is its unique index ('keyindex', dropped
# with the constraint) and the constraint put on it ('key'); a unique index of no constraint is an
# 'index'. What stays: a key a foreign key rests on, an exclusion constraint (its index is not unique),
# a partition's key (attached to its parent's), CLUSTER ON, REPLICA IDENTITY (USING INDEX, or the primary
# key of a published table), a tablespace, a comment, a statistics target.
KEYS_SQL = """
WITH k AS (
SELECT i.indexrelid, x.relname AS idx, n.nspname, t.relname AS tbl, c.oid AS con, c.conname, c.contype,
       c.condeferrable, c.condeferred
  FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
  LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u')
 WHERE i.indrelid = %(table)s::regclass AND i.indisunique AND i.indisvalid
   AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
   AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = i.indexrelid)
   AND NOT EXISTS (SELECT 1 FROM pg_constraint o WHERE o.conindid = i.indexrelid AND o.contype NOT IN ('p', 'u', 'f'))
   AND NOT i.indisclustered AND NOT i.indisreplident AND x.reltablespace = 0
   AND NOT (i.indisprimary AND t.relreplident = 'd' AND EXISTS (
            SELECT 1 FROM pg_publication_tables p WHERE p.schemaname = n.nspname AND p.tablename = t.relname))
   AND obj_description(i.indexrelid, 'pg_class') IS NULL AND obj_description(c.oid, 'pg_constraint') IS NULL
   AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = i.indexrelid AND coalesce(a.attstattarget, -1) >= 0)
)
SELECT CASE WHEN con IS NULL THEN 'index:' || idx ELSE 'keyindex:' || conname END,
       CASE WHEN con IS NULL THEN 'index' ELSE 'keyindex' END, nspname || '.' || idx,
       CASE WHEN con IS NULL THEN format('DROP INDEX %%I.%%I', nspname, idx)
            ELSE format('ALTER TABLE %%I.%%I DROP CONSTRAINT %%I', nspname, tbl, conname) END,
       pg_get_indexdef(indexrelid), NULL::oid
  FROM k
UNION ALL
SELECT 'key:' || conname, 'key', nspname || '.' || tbl || '.' || conname, NULL,
       format('ALTER TABLE %%I.%%I ADD CONSTRAINT %%I %%s USING INDEX %%I', nspname, tbl, conname,
              CASE contype WHEN 'p' THEN 'PRIMARY KEY' ELSE 'UNIQUE' END, idx)
       || CASE WHEN condeferred THEN ' DEFERRABLE INITIALLY DEFERRED' WHEN condeferrable THEN ' DEFERRABLE' ELSE '' END,
       NULL::oid
  FROM k WHERE con IS NOT NULL
"""

# The tables (formatted names, of those given) with a foreign key to the given table, itself aside.
REFERENCING_SQL = """
SELECT DISTINCT format('%%I.%%I', n.nspname, t.relname)
  FROM pg_constraint f JOIN pg_class t ON t.oid = f.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
 WHERE f.contype = 'f' AND f.confrelid = %(table)s::regclass AND f.conrelid <> f.confrelid
   AND format('%%I.%%I', n.nspname, t.relname) = ANY(%(among)s)
 ORDER BY 1
"""


@dataclass(frozen=True)
class Range:
    table: str
    number: int
    kind: str  # 'key' (an integer column) or 'ctid' (pages)
    column: str | None
    lo: int | None  # None: from the first
    hi: int | None  # None: to the last
    done: bool = False
    rows: int = 0
    checksum: str = "0"


@dataclass(frozen=True)
class Aside:
    table: str
    name: str
    kind: str  # 'trigger', 'index', 'fkey', 'notvalid' (a NOT VALID key or check: never validated),
    # 'keyindex' (a key's unique index) or 'key' (the constraint put on it)
    create: str
    added: bool  # a foreign key added NOT VALID, its VALIDATE still due; a key's index built


def ready(conn: psycopg.Connection) -> bool:
    """Make the journal if it is missing; False when the role may not (the copy then loads each table
    in one transaction, as before)."""
    row = conn.execute(CURRENT_SQL).fetchone()
    if row and row[0]:
        return True
    try:
        with conn.transaction():
            conn.execute(CREATE_SQL)
    except psycopg.errors.InsufficientPrivilege:
        return False
    return True


def exists(conn: psycopg.Connection) -> bool:
    row = conn.execute(EXISTS_SQL).fetchone()
    return bool(row and row[0])


def ranges(conn: psycopg.Connection, table: str | None = None) -> list[Range]:
    rows = conn.execute(
        f"SELECT tbl, n, kind, col, lo, hi, done, coalesce(rows, 0), coalesce(checksum, '0') FROM {SCHEMA}.copy_ranges "
        "WHERE %(t)s::text IS NULL OR tbl = %(t)s ORDER BY tbl, n",
        {"t": table},
    ).fetchall()
    return [Range(*row) for row in rows]


def plan_ranges(conn: psycopg.Connection, planned: list[Range]) -> None:
    """Record a table's ranges (in the caller's transaction)."""
    for r in planned:
        conn.execute(
            f"INSERT INTO {SCHEMA}.copy_ranges (tbl, n, kind, col, lo, hi, rel) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s::regclass)",
            (r.table, r.number, r.kind, r.column, r.lo, r.hi, r.table),
        )


def range_done(conn: psycopg.Connection, r: Range, rows: int, checksum: str) -> None:
    conn.execute(
        f"UPDATE {SCHEMA}.copy_ranges SET (done, rows, checksum) = (true, %s, %s) WHERE tbl = %s AND n = %s",
        (rows, checksum, r.table, r.number),
    )


def follow(conn: psycopg.Connection) -> None:
    """The journal's half-copied tables (and their foreign keys still to validate) under their names of
    now: a migration may have renamed one since (:data:`FOLLOW_SQL`)."""
    if exists(conn) and ready(conn):
        with conn.transaction():
            conn.execute(FOLLOW_SQL)


def forget_ranges(conn: psycopg.Connection, table: str) -> None:
    conn.execute(f"DELETE FROM {SCHEMA}.copy_ranges WHERE tbl = %s", (table,))


def forget_aside(conn: psycopg.Connection, table: str) -> None:
    """What was set aside of ``table`` forgotten (the table is gone)."""
    conn.execute(f"DELETE FROM {SCHEMA}.copy_set_aside WHERE tbl = %s", (table,))


def set_aside(conn: psycopg.Connection, table: str, query: str = SET_ASIDE_SQL) -> int:
    """Record, then drop, ``table``'s secondary indexes and foreign keys (in the caller's transaction):
    the number set aside."""
    found = conn.execute(query, {"table": table}).fetchall()
    for name, kind, catalog_name, _, create, oid in found:
        conn.execute(
            f"INSERT INTO {SCHEMA}.copy_set_aside (tbl, name, kind, catalog_name, create_sql, con) "
            "VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT DO NOTHING",
            (table, name, kind, catalog_name, create, oid if kind == "notvalid" else None),
        )
    for _, _, _, drop, _, _ in found:
        if drop:
            conn.execute(drop)
    return len(found)


def set_aside_keys(conn: psycopg.Connection, table: str) -> int:
    """Record, then drop, ``table``'s primary key and unique constraints and indexes that no foreign key
    rests on (:data:`KEYS_SQL`; in the caller's transaction, after the foreign keys that would)."""
    return set_aside(conn, table, KEYS_SQL)


def referencing(conn: psycopg.Connection, table: str, among: list[str]) -> list[str]:
    """The tables of ``among`` (other than ``table``) with a foreign key resting on ``table``'s keys."""
    rows = conn.execute(REFERENCING_SQL, {"table": table, "among": among}).fetchall()
    return [row[0] for row in rows]


def aside(conn: psycopg.Connection) -> list[Aside]:
    rows = conn.execute(
        f"SELECT tbl, name, kind, create_sql, added FROM {SCHEMA}.copy_set_aside ORDER BY kind DESC, tbl, name"
    ).fetchall()
    return [Aside(*row) for row in rows]


def added(conn: psycopg.Connection, item: Aside) -> None:
    conn.execute(
        f"UPDATE {SCHEMA}.copy_set_aside SET added = true WHERE tbl = %s AND name = %s", (item.table, item.name)
    )
    remade(conn, item)


def remade(conn: psycopg.Connection, item: Aside) -> None:
    """``item`` made again by the copy (a foreign key added ``NOT VALID``, its validation still due, or
    set aside and added back once more): the constraint's oid recorded for :func:`still_ours`."""
    if item.kind in ("fkey", "notvalid"):
        conn.execute(OWN_KEY_SQL, {"t": item.table, "c": item.name.split(":", 1)[1], "n": item.name})


def still_ours(conn: psycopg.Connection, item: Aside) -> tuple[str, str] | None:
    """Where the foreign key ``item`` the copy added ``NOT VALID`` is now (its table and name, which a
    migration may have renamed), its validation still due; None when a migration dropped it (or its
    table), declared it again (``NOT VALID`` on purpose) or validated it."""
    row = conn.execute(STILL_OURS_SQL, {"t": item.table, "c": item.name.split(":", 1)[1], "n": item.name}).fetchone()
    return (row[0], row[1]) if row else None


def put_back(conn: psycopg.Connection, item: Aside) -> None:
    """``item`` is back: its entry deleted (a key's: with its index's)."""
    names = [item.name] + ([item.name.replace("key:", "keyindex:", 1)] if item.kind == "key" else [])
    conn.execute(f"DELETE FROM {SCHEMA}.copy_set_aside WHERE tbl = %s AND name = ANY(%s)", (item.table, names))


def drop_if_empty(conn: psycopg.Connection) -> None:
    """Drop the journal once nothing is left in it (the target's schema is then what it was)."""
    if not exists(conn):
        return
    with conn.transaction():
        left = conn.execute(
            f"SELECT EXISTS (SELECT FROM {SCHEMA}.copy_ranges) OR EXISTS (SELECT FROM {SCHEMA}.copy_set_aside)"
        ).fetchone()
        if left and not left[0]:
            conn.execute(f"DROP TABLE {SCHEMA}.copy_ranges, {SCHEMA}.copy_set_aside")
            if not conn.execute(
                "SELECT EXISTS (SELECT FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                f"WHERE n.nspname = '{SCHEMA}')"
            ).fetchone()[0]:  # type: ignore[index]
                conn.execute(f"DROP SCHEMA {SCHEMA}")


def range_undone(conn: psycopg.Connection, r: Range) -> None:
    conn.execute(
        f"UPDATE {SCHEMA}.copy_ranges SET (done, rows, checksum) = (false, NULL, NULL) WHERE tbl = %s AND n = %s",
        (r.table, r.number),
    )
