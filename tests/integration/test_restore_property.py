"""
Property: for random schemas and data (arrays, json, jsonb, bytea, numeric, timestamptz, enums,
domains, quoted and non-ASCII names, partitions), a verified backup, then random changes (new
tables, columns, types, functions, views, rows written and deleted), then a restore gives back
exactly the catalog and, table by table, the rows of the backup: checksums computed by column
name, so a column order that changed would show. Real PostgreSQL (the sandbox's target cluster,
as its non-superuser owner role); the backup and restore functions are called in this process.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from tasks.backups import dump as dumps
from tasks.backups import restore as restoring
from tasks.schema import catalog

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

NAMES = ["items", "Audit Log", "ünïcødé", "a.b", 'we"ird', "Ωmega", "order"]
SAFE_INT = st.integers(-2**31, 2**31 - 1)
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
JSON = st.recursive(st.none() | st.booleans() | st.integers(-1000, 1000) | TEXT,
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=6)
TYPES = {
    "int": SAFE_INT,
    "numeric(12,3)": st.decimals(min_value=Decimal("-99999999.999"), max_value=Decimal("99999999.999"), places=3,
                                 allow_nan=False),
    "text": TEXT,
    "bytea": st.binary(max_size=16),
    "jsonb": JSON.map(json.dumps),
    "json": JSON.map(json.dumps),
    "timestamptz": st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1),
                                timezones=st.just(UTC)),
    "int[]": st.lists(SAFE_INT, max_size=4),
    "text[]": st.lists(TEXT, max_size=3),
    "mood": st.sampled_from(["sad", "ok", "happy"]),
    "posint": st.integers(1, 10**6),
}
COLUMN_NAMES = ["value", "Größe", "two words", "x.y", "select"]


@st.composite
def schemas(draw):
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True))
    tables = []
    for name in names:
        columns = draw(st.lists(st.tuples(st.sampled_from(COLUMN_NAMES), st.sampled_from(sorted(TYPES))),
                                min_size=1, max_size=4, unique_by=lambda c: c[0]))
        partitioned = draw(st.booleans())
        rows = draw(st.lists(st.tuples(*[st.none() | TYPES[t] for _, t in columns]), max_size=6))
        tables.append((name, columns, partitioned, rows))
    return tables


CHANGES = st.lists(st.sampled_from(["new table", "new column", "new type", "new function", "new view",
                                    "more rows", "delete rows", "drop table"]), min_size=1, max_size=4)


def create(conn, tables) -> None:
    conn.execute("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy'); CREATE DOMAIN posint AS int CHECK (VALUE > 0)")
    for name, columns, partitioned, rows in tables:
        table = sql.Identifier(name)
        defs = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in columns)
        if partitioned:
            conn.execute(sql.SQL("CREATE TABLE {} (id int NOT NULL, {}) PARTITION BY RANGE (id)").format(table, defs))
            for low in (0, 3):
                part = sql.Identifier(f"{name} p{low}")
                conn.execute(sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
                    part, table, sql.Literal(low), sql.Literal(low + 3 if low == 0 else 1000)))
        else:
            conn.execute(sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, {})").format(table, defs))
        insert = sql.SQL("INSERT INTO {} (id, {}) VALUES (%s, {})").format(
            table, sql.SQL(", ").join(sql.Identifier(c) for c, _ in columns),
            sql.SQL(", ").join(sql.SQL("%s::{}").format(sql.SQL(t)) for _, t in columns))
        for n, row in enumerate(rows):
            conn.execute(insert, (n, *row))


def change(conn, tables, changes) -> None:
    name = tables[0][0]
    for what in changes:
        table = sql.Identifier(name)
        if what == "new table":
            conn.execute('CREATE TABLE IF NOT EXISTS "late ünï" (id int PRIMARY KEY, note text); '
                         'INSERT INTO "late ünï" VALUES (1, \'x\') ON CONFLICT DO NOTHING')
        elif what == "new column":
            conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS nickname text DEFAULT 'n'").format(table))
        elif what == "new type":
            conn.execute("DROP TYPE IF EXISTS colour; CREATE TYPE colour AS ENUM ('red')")
        elif what == "new function":
            conn.execute("CREATE OR REPLACE FUNCTION late_fn() RETURNS int LANGUAGE sql AS 'SELECT 1'")
        elif what == "new view":
            conn.execute(sql.SQL("CREATE OR REPLACE VIEW late_view AS SELECT id FROM {}").format(table))
        elif what == "more rows":
            conn.execute(sql.SQL("INSERT INTO {} (id) VALUES (500), (501) ON CONFLICT DO NOTHING").format(table)
                         if not tables[0][2] else sql.SQL("INSERT INTO {} (id) VALUES (500)").format(table))
        elif what == "delete rows":
            conn.execute(sql.SQL("DELETE FROM {} WHERE id % 2 = 0").format(table))
        elif what == "drop table":
            conn.execute(sql.SQL("DROP TABLE {} CASCADE").format(table))
            return


def state(conn) -> tuple:
    """The catalog, and per table (row count, md5 of its rows as JSON objects keyed by column name)."""
    tables = [row[3] for row in conn.execute(dumps.ALL_TABLES).fetchall()]
    sums = {}
    for table in tables:
        sums[table] = conn.execute(
            sql.SQL(
                "SELECT count(*), md5(coalesce(string_agg(to_jsonb(t)::text, '|' ORDER BY to_jsonb(t)::text), ''))"
                " FROM {} t"
            ).format(sql.SQL(table))
        ).fetchone()
    return json.dumps(catalog.snapshot(conn), sort_keys=True), sums


def reset(conn) -> None:
    conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(tables=schemas(), changes=CHANGES)
def test_backup_changes_restore_gives_back_the_catalog_and_every_tables_rows(owner_service, tmp_path, tables, changes):
    with psycopg.connect("service=target", autocommit=True) as conn:
        reset(conn)
        create(conn, tables)
        before = state(conn)
    backup = dumps.take_backup("target", tmp_path / "backups", "target", None, lambda line: None)
    with psycopg.connect("service=target", autocommit=True) as conn:
        change(conn, tables, changes)
    outcome, _ = restoring.restore_exactly("target", backup.path, backup.manifest, lambda line: None)
    assert outcome.committed, restoring.mismatches(backup.manifest, outcome)
    with psycopg.connect("service=target", autocommit=True) as conn:
        assert state(conn) == before
