"""
Property-based (hypothesis) tests of the copy engine between the sandbox's two real clusters:
generated schemas (arrays, json/jsonb, bytea, numeric, timestamptz, enums, domains; partitions;
inheritance; quoted names; the target's columns in another order) and generated data are copied,
then every relation is compared with a fingerprint computed by column name on both sides,
independently of the copy's checksum; and a copy killed at a random moment is finished by a rerun.
Example counts are small: each example creates two databases.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from tasks.data import copy as datacopy
from tests.copy_support import Pair, fingerprints, service_names, with_rows
from tests.support import ROOT, query

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

PREAMBLE = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN positive AS int CHECK (VALUE > 0);
CREATE TYPE pair AS (a int, b text);
"""
# type -> SQL expression of the row number g and a text literal s
TYPES = {
    "int": "(g % 1000)::int",
    "bigint": "g::bigint * 1000003",
    "numeric(10,2)": "(g / 7.0)::numeric(10,2)",
    "text": "'t' || g || {s}",
    "bytea": "decode(md5(g::text || {s}), 'hex')",
    "timestamptz": "timestamptz '2020-01-01 00:00+03' + g * interval '37 minutes'",
    "jsonb": "jsonb_build_object('k', g, 's', {s})",
    "json": "json_build_object('k', g, 'n', g / 3.0)",
    "int[]": "ARRAY[g, NULL, g + 1]",
    "text[]": "ARRAY['a' || g, {s}]",
    "mood": "(enum_range(NULL::mood))[1 + g % 3]",
    "mood[]": "enum_range(NULL::mood)",
    "pair": "ROW(g, 'p' || g)::pair",
    "positive[]": "ARRAY[1 + g]::positive[]",
    "positive": "1 + g",
    "boolean": "g % 2 = 0",
}
NAMES = ["plain", "Mixed Case", 'quo"te', "select", "ünï"]
text_values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)


@st.composite
def schemas(draw):
    """[(table name, kind, [(column, type)], rows, null every n, text literal, target column order)]"""
    tables = []
    for name in draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True)):
        kind = draw(st.sampled_from(["plain", "partitioned", "inherited"]))
        columns = draw(
            st.lists(
                st.tuples(st.sampled_from(["a", "B b", 'c"', "d", "e", "zz"]), st.sampled_from(sorted(TYPES))),
                min_size=1,
                max_size=5,
                unique_by=lambda c: c[0],
            )
        )
        columns = [("id", "int")] + columns
        order = draw(st.permutations(range(len(columns))))
        tables.append(
            (name, kind, columns, draw(st.integers(0, 300)), draw(st.integers(2, 9)), draw(text_values), order)
        )
    return tables


def _ddl(tables, target: bool) -> str:
    parts = [PREAMBLE]
    for name, kind, columns, _, _, _, order in tables:
        table = sql.Identifier(name).as_string(None)
        cols = [columns[i] for i in order] if target else columns
        body = ", ".join(f"{sql.Identifier(c).as_string(None)} {t}" for c, t in cols)
        if kind == "partitioned":
            parts.append(f"CREATE TABLE {table} ({body}) PARTITION BY HASH (id);")
            parts += [
                f"CREATE TABLE {sql.Identifier(name + f'_p{r}').as_string(None)} PARTITION OF {table} "
                f"FOR VALUES WITH (MODULUS 3, REMAINDER {r});"
                for r in range(3)
            ]
        else:
            parts.append(f"CREATE TABLE {table} ({body});")
        if kind == "inherited":
            parts.append(
                f"CREATE TABLE {sql.Identifier(name + '_child').as_string(None)} (extra text) INHERITS ({table});"
            )
    return "\n".join(parts)


def _data(tables) -> str:
    parts = []
    for name, kind, columns, rows, nulls, text, _ in tables:
        literal = sql.Literal(text).as_string(None)
        names = ", ".join(sql.Identifier(c).as_string(None) for c, _ in columns)
        values = ", ".join(
            "g" if c == "id" else f"CASE WHEN g % {nulls} = 0 THEN NULL ELSE {TYPES[t].format(s=literal)} END"
            for c, t in columns
        )
        parts.append(
            f"INSERT INTO {sql.Identifier(name).as_string(None)} ({names}) "
            f"SELECT {values} FROM generate_series(1, {rows}) g;"
        )
        if kind == "inherited":
            parts.append(
                f"INSERT INTO {sql.Identifier(name + '_child').as_string(None)} ({names}, extra) "
                f"SELECT {values}, 'x' || g FROM generate_series(1, {rows // 2}) g;"
            )
    return "\n".join(parts)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schemas())
def test_generated_schemas_and_data_copy_equal_by_column_name(tables):
    with Pair() as pair, service_names(pair.source_url, pair.target_url):
        query(pair.source, _ddl(tables, target=False) + _data(tables), which="source")
        query(pair.target, "SET ROLE whynot_owner;" + _ddl(tables, target=True))
        datacopy.copy_data("source", "target", False, lambda line: None, jobs=2)
        source = with_rows(fingerprints(pair.source, "source"))
        assert with_rows(fingerprints(pair.target, "target")) == source
        again = datacopy.copy_data("source", "target", False, lambda line: None, jobs=2)
        assert again.copy == [] and again.replace == [] and again.sequences == 0


KILLED_COPY = "from tasks.data.copy import copy_data; copy_data('source', 'target', False, print, jobs=2)"


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.floats(0.0, 1.5))
def test_a_copy_killed_at_a_random_moment_is_finished_by_a_rerun(delay):
    tables = [
        (
            "big",
            "partitioned",
            [("id", "int"), ("a", "text"), ("b", "jsonb"), ("c", "bytea")],
            60000,
            7,
            "x",
            [3, 2, 1, 0],
        ),
        ("small", "inherited", [("id", "int"), ("d", "mood")], 50, 5, "", [1, 0]),
    ]
    with Pair() as pair, service_names(pair.source_url, pair.target_url):
        query(pair.source, _ddl(tables, target=False) + _data(tables), which="source")
        query(pair.target, "SET ROLE whynot_owner;" + _ddl(tables, target=True))
        process = subprocess.Popen(
            [sys.executable, "-c", KILLED_COPY],
            cwd=ROOT,
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(delay)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        query("postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (pair.target,))
        for name, rows in query(
            pair.target, "SELECT 'big', count(*) FROM ONLY big_p0 UNION ALL SELECT 'small', count(*) FROM ONLY small"
        ):
            assert rows in (
                0,
                {"big": query(pair.source, "SELECT count(*) FROM ONLY big_p0", which="source")[0][0], "small": 50}[
                    name
                ],
            )  # a table is all there or not at all
        datacopy.copy_data("source", "target", False, lambda line: None, jobs=2)
        assert with_rows(fingerprints(pair.target, "target")) == with_rows(fingerprints(pair.source, "source"))
