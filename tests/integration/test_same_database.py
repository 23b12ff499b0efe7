"""
The same database is recognised by what the servers say, not by how the URLs spell them (issue 16.9),
and BASELINE_VERSION is refused on a target without tables (issue 16.8): real pyinfra CLI, real clusters.
"""

from urllib.parse import urlsplit, urlunsplit

import pytest

from tasks.core.identity import Identity, same_database
from tests.support import query

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters


def _alias(url: str) -> str:
    """The same server under its other local name (127.0.0.1 <-> localhost)."""
    parts = urlsplit(url)
    host = "localhost" if parts.hostname == "127.0.0.1" else "127.0.0.1"
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f"@{parts.hostname}:", f"@{host}:")))


def _source_state(source_db) -> list:
    """The source's tables and its own history (the fixture built it with the engine)."""
    return query(
        source_db,
        "SELECT (SELECT array_agg(relname::text ORDER BY relname) FROM pg_class WHERE relkind = 'r' "
        "AND relnamespace = 'public'::regnamespace), (SELECT array_agg(version || kind ORDER BY version) "
        "FROM schema_migrations)",
        which="source",
    )


def test_the_source_under_another_host_name_is_refused_and_nothing_is_created_in_it(project, source_db):
    alias = _alias(project.source_url)
    assert alias != project.source_url
    before = _source_state(source_db)
    for run in (project.dry, project.deploy):
        result = run(TARGET_DATABASE_URL=alias, BASELINE_VERSION="4")
        assert result.code != 0
        assert "reaches the same database as SOURCE_DATABASE_URL" in result.output, result.output[-2000:]
        assert "Traceback" not in result.output
    assert _source_state(source_db) == before


def test_another_database_on_the_same_server_is_not_the_source(project, source_db, target_db):
    """The check compares databases, not servers: a target on the source's cluster still converges."""
    identity = Identity("whynot", 5, "5432", "2026-11-30 11:00:00+00", "7713")
    assert same_database(identity, identity)
    assert not same_database(identity, Identity("other", 6, "5432", "2026-11-30 11:00:00+00", "7713"))
    assert not same_database(identity, Identity("whynot", 5, "5432", "2026-11-30 11:00:01+00", None))
    assert same_database(identity, Identity("whynot", 5, "5432", "2026-11-30 11:00:00+00", None))


def test_baseline_on_an_empty_target_is_refused_with_the_reason(project):
    result = project.deploy(BASELINE_VERSION="4")
    assert result.code != 0
    assert "BASELINE_VERSION=4 but the target has no tables: there is nothing to adopt" in result.output, result.output[
        -2000:
    ]
    assert project.applied_versions() == [] and project.tables() == []
