"""
A relation's row count and content checksum, the same on every server for the same rows.

Per row: ``hash_record_extended`` (PostgreSQL >= 14; its hash functions are the ones hash
partitioning relies on, so they do not change between major versions) of a ROW of the columns
**sorted by name**, so two tables with the same columns in another order give the same checksum.
A table's checksum is the sum of its rows' 64-bit hashes: order-independent, one pass, no sort.

Columns are hashed as they are stored when their type's hash is exact and server-independent
(integers, text, bytea, timestamps, uuid, jsonb, ... and arrays of them); every other type goes
through its text form (``::text``): floats (their hash equates -0 and 0), json (no extended
hash), numeric (its hash ignores the scale: 1.0 and 1.00), interval ('1 day' = '24 hours'), enums
(hashed by their OID, which differs between databases), domains, composites, ranges, geometric
types. The text form is pinned by :data:`PINNED_FORMAT` on both sides. Generated columns are left
out: the target computes them.

    SELECT 'public.pets', count(*), coalesce(sum(hash_record_extended(ROW(t."age", t."id",
           t."name" COLLATE "C"), 0)), 0)::text FROM ONLY public.pets t
"""

from __future__ import annotations

PINNED_FORMAT = (
    "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3"
)

# bool, bytea, "char", name, int8, int2, int4, text, oid, bpchar, varchar, date, time, timestamp,
# timestamptz, uuid, jsonb: equal values have equal hashes, unequal ones differ. Not float4/float8:
# their hash makes -0 equal to 0 (and every NaN one); their text form (shortest exact digits, with
# extra_float_digits pinned) keeps -0 apart from 0.
HASHED_AS_STORED = "16, 17, 18, 19, 20, 21, 23, 25, 26, 1042, 1043, 1082, 1083, 1114, 1184, 2950, 3802"

_COLUMN = f"""CASE WHEN ty.typtype <> 'd' AND (ty.oid IN ({HASHED_AS_STORED})
                     OR (ty.typcategory = 'A' AND ty.typelem IN ({HASHED_AS_STORED})))
           THEN format('t.%I', a.attname) || CASE WHEN a.attcollation <> 0 THEN ' COLLATE "C"' ELSE '' END
           ELSE format('t.%I::text', a.attname) END"""

_ROW_HASH = f"""(SELECT 'coalesce(sum(hash_record_extended(ROW('
               || string_agg({_COLUMN}, ', ' ORDER BY a.attname COLLATE "C") || '), 0)), 0)::text'
          FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
         WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '')"""


def queries_sql(relations_sql: str, checksums: bool = True, exists_only: bool = False) -> str:
    """SQL giving ``(name, query)`` for each ``(name, oid)`` row of ``relations_sql``; each query
    returns ``(name, rows, checksum)``. With ``checksums=False`` the checksum is '' (rows only); with
    ``exists_only`` rows is 1 when the relation has a row, else 0 (one row read, not all)."""
    value = f"coalesce({_ROW_HASH}, '''0''')" if checksums and not exists_only else "''''''"
    source = "(SELECT FROM ONLY %s LIMIT 1)" if exists_only else "ONLY %s"
    return (
        f"SELECT r.name, format('SELECT %L::text, count(*), %s FROM {source} t', r.name, {value}, r.name)\n"
        f"  FROM ({relations_sql}) r(name, oid)"
    )
