"""
Real migrations (issue 21): Lemmy's first 247 migrations (vendored unedited under
tests/samples/lemmy, AGPL-3.0) converge through the real pyinfra CLI on the sandbox's non-superuser,
SSL target; a second run changes nothing; and the schema the deploy leaves is the one PostgreSQL
itself builds from the same files run by plain ``psql`` (one session, one transaction per file),
compared as ``pg_dump --schema-only`` text: an oracle this project did not write.
"""

import os
import subprocess
from pathlib import Path

import pytest

import sandbox
from tests.support import create_target_db, drop_db, sandbox_urls

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

LEMMY = Path(__file__).resolve().parents[1] / "samples" / "lemmy" / "migrations"


def _bin(tool: str) -> str:
    """The target cluster's own client (PostgreSQL 17: the Debian pg_dump 15 refuses a newer server)."""
    return str(Path(sandbox.load_state()["target"]["bindir"]) / tool)


def _libpq_env(dbname: str) -> dict[str, str]:
    """The owner role over TCP with SSL, as the deploy connects; the password in the environment only."""
    from urllib.parse import urlsplit

    url = urlsplit(sandbox_urls()["target"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(PGHOST=url.hostname, PGPORT=str(url.port), PGUSER=url.username, PGPASSWORD=url.password,
               PGDATABASE=dbname, PGSSLMODE="require")
    return env


def _schema(dbname: str) -> str:
    done = subprocess.run([_bin("pg_dump"), "--schema-only", "--exclude-table=public.schema_migrations"],
                          env=_libpq_env(dbname), capture_output=True, text=True, check=True)
    # pg_dump >= 17.6 brackets its output with \restrict KEY / \unrestrict KEY, a random key per dump.
    return "".join(line for line in done.stdout.splitlines(keepends=True)
                   if not line.startswith(("\\restrict ", "\\unrestrict ")))


def _plain_psql(dbname: str, files: list[Path]) -> None:
    """Each file in its own transaction in one psql session, the session reset between files."""
    script = "\\set ON_ERROR_STOP 1\n" + "".join(f"BEGIN;\n\\i {path}\nCOMMIT;\nDISCARD ALL;\n" for path in files)
    done = subprocess.run([_bin("psql"), "-X", "-q", "-f", "-"], input=script, env=_libpq_env(dbname),
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.long
def test_lemmy_converges_once_and_its_schema_is_what_psql_builds_from_the_same_files(project):
    files = sorted(LEMMY.glob("*.sql"))
    assert len(files) == 247
    for old in project.migrations.glob("*.sql"):
        old.unlink()
    project.migrations.rmdir()
    project.migrations = LEMMY
    project.seeds = project.tmp / "no-seed"

    first = project.deploy()
    assert first.code == 0, first.output[-3000:]
    assert len(project.applied_versions()) == 247
    again = project.deploy()
    assert again.code == 0, again.output[-3000:]
    assert again.changed() == [], again.output[-3000:]

    oracle = create_target_db()
    try:
        _plain_psql(oracle, files)
        expected = _schema(oracle)
    finally:
        drop_db(oracle)
    assert "CREATE TABLE public.comment_aggregates" in expected  # the oracle did build Lemmy's schema
    assert _schema(project.target_db) == expected
