"""
Helpers for the data-copy tests: a fingerprint of every relation that holds rows, computed
independently of the copy's own checksum (rows as jsonb, whose keys are sorted by name, so column
order does not matter), and a way to give the source and the target the same extra schema.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql

from tasks.core.connections import ServiceFile
from tasks.core.urls import parse_database_url
from tests.support import admin, create_target_db, drop_db, query, sandbox_urls, with_dbname

# Every relation with storage in the database's own schemas (tables at any place in a tree, populated
# materialized views), schema_migrations aside.
RELATIONS = """
SELECT format('%I.%I', n.nspname, c.relname), c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
   AND c.relname <> 'schema_migrations' AND (c.relkind = 'r' OR c.relispopulated)
 ORDER BY 1
"""
GENERATED = (
    "SELECT coalesce(array_agg(attname::text), '{}') FROM pg_attribute WHERE attrelid = %s AND attgenerated <> ''"
)


def fingerprints(dbname: str, which: str) -> dict[str, tuple[int, str]]:
    """``{relation: (rows, md5 of its rows as sorted jsonb texts)}``; generated columns left out."""
    found = {}
    with admin(which, dbname) as conn:
        conn.execute("SET TimeZone = 'UTC'; SET extra_float_digits = 3")
        for name, oid in conn.execute(RELATIONS).fetchall():
            generated = conn.execute(GENERATED, (oid,)).fetchone()[0]
            text = sql.SQL(
                "SELECT count(*), md5(coalesce(string_agg(r, '|' ORDER BY r), '')) "
                "FROM (SELECT (to_jsonb(t) - {}::text[])::text AS r FROM ONLY {} t) x"
            ).format(sql.Literal(generated), sql.SQL(name))
            found[name] = tuple(conn.execute(text).fetchone())
    return found


def with_rows(found: dict[str, tuple[int, str]]) -> dict[str, tuple[int, str]]:
    return {name: value for name, value in found.items() if value[0]}


def same_schema(project, source_db: str, ddl: str, target_ddl: str | None = None, version: int = 900) -> None:
    """Run ``ddl`` in the source and add it as migration ``version`` (``target_ddl`` if given)."""
    query(source_db, ddl, which="source")
    project.write_migration(f"{version}_copy_case.sql", target_ddl or ddl)


@contextmanager
def service_names(source_url: str, target_url: str):
    """The two databases as the services ``source`` and ``target`` for the copy engine, in this process."""
    service_file = ServiceFile(
        {
            "source": parse_database_url(source_url).service_params(),
            "target": parse_database_url(target_url).service_params(),
        }
    )
    saved = {key: os.environ.get(key) for key in ("PGSERVICEFILE", "PGPASSWORD", "PGSERVICE", "DATABASE_URL")}
    service_file.install()
    try:
        yield service_file
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
        service_file.remove()


@pytest.fixture
def services(project, source_db):
    """The test's source and target databases as the services ``source`` and ``target``."""
    with service_names(project.source_url, project.target_url):
        yield project


class Pair:
    """A fresh source database (source cluster) and target database (target cluster, owner role)."""

    def __enter__(self):
        self.source = create_target_db()  # a name; recreated on the source cluster below
        drop_db(self.source)
        query("postgres", f"CREATE DATABASE {self.source}", which="source")
        self.target = create_target_db()
        urls = sandbox_urls()
        self.source_url, self.target_url = (
            with_dbname(urls["source"], self.source),
            with_dbname(urls["target"], self.target),
        )
        return self

    def __exit__(self, *exc):
        drop_db(self.source, "source")
        drop_db(self.target)


def migrate_target(target_url: str) -> None:
    """The example app's migrations applied to the target (the source_db fixture's schema)."""
    from tasks.migrations.engine import apply_migrations
    from tasks.migrations.files import read_migrations
    from tasks.migrations.session import Limits
    from tests.support import MIGRATIONS

    apply_migrations(target_url, read_migrations(MIGRATIONS), None, Limits())


def verified_rows(dbname: str, table: str) -> int:
    """The rows of ``table`` the copy's journal in the target counts as copied and verified (a table
    over COPY_SPLIT_MB is committed range by range; 0 without a journal)."""
    if not query(dbname, "SELECT to_regclass('pgconverge.copy_ranges') IS NOT NULL")[0][0]:
        return 0
    return query(dbname, "SELECT coalesce(sum(rows), 0) FROM pgconverge.copy_ranges WHERE done AND tbl = %s",
                 (table,))[0][0]


PHASE_SQL = """
SELECT CASE WHEN EXISTS (SELECT FROM pgconverge.copy_ranges WHERE NOT done) THEN 'load'
            WHEN EXISTS (SELECT FROM pgconverge.copy_set_aside WHERE added) THEN 'validation'
            WHEN EXISTS (SELECT FROM pgconverge.copy_set_aside) THEN 'rebuild'
            ELSE 'none' END
"""


def copy_phase(conn) -> str:
    """Where the copy is, from its journal in the target."""
    if not conn.execute("SELECT to_regclass('pgconverge.copy_set_aside') IS NOT NULL").fetchone()[0]:
        return "none"
    try:
        return conn.execute(PHASE_SQL).fetchone()[0]
    except psycopg.errors.UndefinedTable:  # dropped just now
        return "none"
