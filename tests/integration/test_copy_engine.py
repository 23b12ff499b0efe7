"""
The copy engine (:mod:`tasks.data.copy`) and its checksum (:mod:`tasks.data.checksum`) called
directly, between the sandbox's two real clusters: the checksum is the same on both servers (whatever
their major versions) and for any column order; the independent completeness check names a relation
the copy's own list misses; parallel jobs load tables after the tables they reference.
"""

from __future__ import annotations

import psycopg
import pytest

from tasks.core.connections import conninfo
from tasks.data import check, relations
from tasks.data import copy as datacopy
from tasks.data.checksum import PINNED_FORMAT
from tests.copy_support import fingerprints, with_rows
from tests.support import query

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

OWNER = "SET ROLE whynot_owner;"  # the target's tables belong to its non-superuser owner
TYPES_DDL = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN positive AS int CHECK (VALUE > 0);
CREATE TYPE pair AS (a int, b text);
CREATE TABLE typed (
    id int PRIMARY KEY, i2 smallint, i8 bigint, n numeric(12, 4), f4 real, f8 double precision, t text, vc varchar(20),
    ch char(5), b boolean, by bytea, d date, tm time, ts timestamp, tz timestamptz, iv interval, u uuid, j json,
    jb jsonb, e mood, dm positive, ar int[], tar text[], ear mood[], cp pair, rg int4range, ip inet, pt point
);
"""
TYPES_ROWS = """
INSERT INTO typed SELECT g, g, g::int8 * 1000000000, g / 3.0, g / 7.0, g / 11.0, 'text ' || g, 'v' || g,
       'c' || (g % 10),
       g % 2 = 0, decode(md5(g::text), 'hex'), date '2024-01-01' + g, time '10:00' + g * interval '1 minute',
       timestamp '2024-01-01' + g * interval '1 hour', timestamptz '2024-01-01 00:00+02' + g * interval '1 day',
       g * interval '1 hour', md5(g::text)::uuid, json_build_object('g', g, 'n', g / 3.0), jsonb_build_object('g', g),
       (ARRAY['sad', 'ok', 'happy']::mood[])[1 + g % 3], 1 + g, ARRAY[g, NULL, g + 1], ARRAY['a', NULL, g::text],
       ARRAY['ok', 'happy']::mood[], ROW(g, 'p' || g)::pair, int4range(g, g + 10), ('10.0.0.' || (g % 250))::inet,
       point(g, -g)
  FROM generate_series(1, 300) g;
INSERT INTO typed (id) VALUES (0);
"""


def _state(service: str, table: str) -> tuple[int, str, int]:
    with psycopg.connect(conninfo(service), autocommit=True) as conn:
        conn.execute(PINNED_FORMAT)
        state = datacopy.table_state(conn, table)
        return state.rows, state.checksum, conn.info.server_version


def test_checksum_is_the_same_on_both_servers_and_for_any_column_order(services, source_db):
    """The sandbox's source is PostgreSQL 15; its target is whatever major version the sandbox runs
    (17 once the Heroku-like target moves there): the same rows must give the same checksum."""
    query(source_db, TYPES_DDL + TYPES_ROWS, which="source")
    reordered = TYPES_DDL.replace("id int PRIMARY KEY, i2 smallint", "i2 smallint, id int PRIMARY KEY").replace(
        "rg int4range, ip inet, pt point", "pt point, ip inet, rg int4range"
    )
    query(
        services.target_db,
        OWNER
        + reordered
        + TYPES_ROWS.replace(
            "INSERT INTO typed SELECT",
            "INSERT INTO typed "
            "(id, i2, i8, n, f4, f8, t, vc, ch, b, by, d, tm, ts, tz, iv, u, j, jb, e, dm, ar, tar, ear, cp, rg, ip,"
            " pt) SELECT",
        ),
    )
    source, target = _state("source", "public.typed"), _state("target", "public.typed")
    assert source[0] == target[0] == 301
    assert source[1] == target[1], f"PostgreSQL {source[2]} and {target[2]} disagree"
    # A one-character change anywhere changes it.
    query(services.target_db, "UPDATE typed SET j = json_build_object('g', 7, 'n', 2.34) WHERE id = 7")
    assert _state("target", "public.typed")[1] != source[1]


def test_minus_zero_and_zero_floats_have_different_checksums(services, source_db):
    """Adversary finding 6: float hashing normalises -0 to 0, so a differing target looked converged."""
    ddl = "CREATE TABLE floats (id int PRIMARY KEY, f8 double precision, f4 real, a8 float8[]);"
    query(source_db, ddl + "INSERT INTO floats VALUES (1, '-0', '-0', '{-0}')", which="source")
    query(services.target_db, OWNER + ddl + "INSERT INTO floats VALUES (1, '0', '-0', '{-0}')")
    assert _state("source", "public.floats")[1] != _state("target", "public.floats")[1]
    for column in ("f4", "a8"):
        query(
            services.target_db,
            f"UPDATE floats SET f8 = '-0', {column} = {'0' if column == 'f4' else chr(39) + '{0}' + chr(39)}",
        )
        assert _state("source", "public.floats")[1] != _state("target", "public.floats")[1], column
        query(services.target_db, "UPDATE floats SET f4 = '-0', a8 = '{-0}'")
    assert _state("source", "public.floats")[1] == _state("target", "public.floats")[1]


def test_a_relation_the_copy_list_misses_fails_the_completeness_check_by_name(services, source_db, monkeypatch):
    query(source_db, "CREATE TABLE pets (id int PRIMARY KEY, name text)", which="source")
    query(source_db, "INSERT INTO pets VALUES (1, 'rex'), (2, 'tom')", which="source")
    from tasks.migrations.engine import apply_migrations
    from tasks.migrations.files import read_migrations
    from tasks.migrations.session import Limits
    from tests.support import MIGRATIONS

    apply_migrations(services.target_url, read_migrations(MIGRATIONS), None, Limits())
    query(services.target_db, OWNER + "CREATE TABLE pets (id int PRIMARY KEY, name text)")
    # The copy's own list loses a table, as the old one lost every partition.
    monkeypatch.setattr(
        relations,
        "TABLES_SQL",
        relations.TABLES_SQL.replace("WHERE c.relkind = 'r'", "WHERE c.relkind = 'r' AND c.relname <> 'pets'"),
    )
    with pytest.raises(datacopy.CopyError) as failed:
        datacopy.copy_data("source", "target", False, lambda line: None, jobs=2)
    assert "the target is incomplete after the copy: public.pets: 2 rows in the source, 0 in the target" in str(
        failed.value
    )


def test_parallel_jobs_copy_every_table_after_the_ones_it_references(services, source_db):
    from tasks.migrations.engine import apply_migrations
    from tasks.migrations.files import read_migrations
    from tasks.migrations.session import Limits
    from tests.support import MIGRATIONS

    apply_migrations(services.target_url, read_migrations(MIGRATIONS), None, Limits())
    lines: list[str] = []
    done = datacopy.copy_data("source", "target", False, lines.append, jobs=4)
    assert sorted(done.copy) == ["public.messages", "public.rooms", "public.users"]
    order = [line.split(":")[0] for line in lines if "verified" in line]
    assert order.index("public.users") < order.index("public.rooms") < order.index("public.messages")
    assert with_rows(fingerprints(services.target_db, "target")) == with_rows(fingerprints(source_db, "source"))
    again = datacopy.copy_data("source", "target", False, lines.append, jobs=4)
    assert again.copy == [] and again.sequences == 0


def test_a_descending_sequence_is_moved_forward_to_the_source_state_and_compared(services, source_db):
    """Adversary finding 5: a descending sequence (INCREMENT -1) was left at -1 against the source's -3.
    Issue 29 class 1: a target sequence further on than the source's (the app's) is left alone."""
    from tasks.migrations.engine import apply_migrations
    from tasks.migrations.files import read_migrations
    from tasks.migrations.session import Limits
    from tests.support import MIGRATIONS

    apply_migrations(services.target_url, read_migrations(MIGRATIONS), None, Limits())
    ddl = "CREATE SEQUENCE down INCREMENT -1; CREATE SEQUENCE unused;"
    query(source_db, ddl + "SELECT nextval('down'), nextval('down'), nextval('down');", which="source")
    query(services.target_db, OWNER + ddl + "SELECT nextval('down'), nextval('unused');")
    done = datacopy.copy_data("source", "target", False, lambda line: None)
    assert done.sequences >= 1
    assert query(services.target_db, "SELECT last_value, is_called FROM unused")[0] == (1, True)  # never back
    assert query(services.target_db, "SELECT nextval('down')")[0][0] == -4
    query(source_db, "SELECT nextval('down')", which="source")  # both at -4 now
    assert datacopy.copy_data("source", "target", False, lambda line: None).sequences == 0
    # the completeness check compares sequences: one the copy's own list would miss is named
    query(services.target_db, "SELECT setval('down', -1)")
    with (
        psycopg.connect(conninfo("source"), autocommit=True) as src,
        psycopg.connect(conninfo("target"), autocommit=True) as dst,
    ):
        problems = check.check(src, dst, lambda name: _pair(src, name), lambda name: _pair(dst, name))
    assert "sequence public.down: next value -5 in the source, behind it (-2) in the target" in problems


def _pair(conn, name: str) -> tuple[int, str]:
    conn.execute(PINNED_FORMAT)
    state = datacopy.table_state(conn, name)
    return state.rows, state.checksum


def test_copy_jobs_above_the_target_connection_limit_are_lowered_not_refused_by_the_server(services, source_db):
    """Adversary finding 7: COPY_JOBS=40 on max_connections=20 failed with "too many clients"."""
    tables = "".join(f"CREATE TABLE t{i} (id int PRIMARY KEY); " for i in range(30))
    query(source_db, tables + "".join(f"INSERT INTO t{i} VALUES (1), (2); " for i in range(30)), which="source")
    from tasks.migrations.engine import apply_migrations
    from tasks.migrations.files import read_migrations
    from tasks.migrations.session import Limits
    from tests.support import MIGRATIONS

    apply_migrations(services.target_url, read_migrations(MIGRATIONS), None, Limits())
    query(services.target_db, OWNER + tables)
    limit = query(services.target_db, "SELECT current_setting('max_connections')::int")[0][0]
    assert limit < 30, "the sandbox target's connection limit is what this test exceeds"
    lines: list[str] = []
    done = datacopy.copy_data("source", "target", False, lines.append, jobs=40)
    assert len(done.copy) >= 30
    assert any(line.startswith("COPY_JOBS=40 lowered to ") for line in lines), lines[:5]
    assert with_rows(fingerprints(services.target_db, "target")) == with_rows(fingerprints(source_db, "source"))


def test_a_table_without_columns_keeps_its_row_count(services, source_db):
    """Adversary finding 11: a zero-column table with rows failed with 'syntax error at or near ")"'."""
    from tasks.migrations.engine import apply_migrations
    from tasks.migrations.files import read_migrations
    from tasks.migrations.session import Limits
    from tests.support import MIGRATIONS

    apply_migrations(services.target_url, read_migrations(MIGRATIONS), None, Limits())
    query(
        source_db,
        "CREATE TABLE nothing (); INSERT INTO nothing DEFAULT VALUES; INSERT INTO nothing DEFAULT VALUES",
        which="source",
    )
    query(services.target_db, OWNER + "CREATE TABLE nothing ();")
    datacopy.copy_data("source", "target", False, lambda line: None)
    assert query(services.target_db, "SELECT count(*) FROM nothing")[0][0] == 2
    assert datacopy.copy_data("source", "target", False, lambda line: None).copy == []
