"""
drift-repair.sql as a user applies it (psql -f) on the sandbox's real PostgreSQL, through the real
pyinfra CLI: extras ALLOW_EXTRA_OBJECTS tolerates are not dropped; an extra table found empty is
dropped only if it still is; the file resolves names the same whatever the role's search_path; once
the target converges the stale file is removed.
"""

import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import sandbox
from tests.support import query

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters


def psql_file(project, path: Path, search_path: str | None = None) -> subprocess.CompletedProcess:
    url = urlsplit(project.target_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(
        PGHOST=url.hostname or "",
        PGPORT=str(url.port),
        PGUSER=url.username or "",
        PGPASSWORD=url.password or "",
        PGDATABASE=project.target_db,
        PGSSLMODE="require",
    )
    if search_path:
        env["PGOPTIONS"] = f"-c search_path={search_path}"
    psql = str(Path(sandbox.load_state()["target"]["bindir"]) / "psql")
    return subprocess.run(
        [psql, "-X", "-v", "ON_ERROR_STOP=1", "-f", str(path)], env=env, check=False, capture_output=True, text=True
    )


def repair_file(project) -> Path:
    return project.tmp / "reports" / "drift-repair.sql"


def test_tolerated_extras_are_left_and_the_real_drift_repaired(project, source_db):
    assert project.deploy().code == 0
    query(
        project.target_db,
        "CREATE TABLE jobs_queue (id int); CREATE INDEX app_idx ON users (display_name); "
        "DROP INDEX messages_user_id_idx",
    )
    drifted = project.deploy(ALLOW_EXTRA_OBJECTS="true")
    assert drifted.code != 0
    text = repair_file(project).read_text()
    assert "messages_user_id_idx" in text
    assert "jobs_queue" not in text and "app_idx" not in text


def test_an_empty_extra_table_is_dropped_only_if_it_is_still_empty(project, source_db):
    assert project.deploy().code == 0
    query(project.target_db, "CREATE TABLE later (id int); ALTER TABLE later OWNER TO whynot_owner")
    assert project.deploy().code != 0
    text = repair_file(project).read_text()
    assert "DROP TABLE public.later" in text, text
    query(project.target_db, "INSERT INTO later VALUES (1)")  # written after the file was
    done = psql_file(project, repair_file(project))
    assert done.returncode != 0 and "holds rows now" in done.stderr
    assert query(project.target_db, "SELECT id FROM later") == [(1,)]


def test_the_file_repairs_public_whatever_the_search_path_and_is_removed_once_converged(project, source_db):
    assert project.deploy().code == 0
    query(
        project.target_db,
        "ALTER TABLE rooms DROP CONSTRAINT rooms_created_by_fkey; "
        "CREATE SCHEMA app AUTHORIZATION whynot_owner; "
        "CREATE TABLE app.users (id bigint PRIMARY KEY); "
        "ALTER TABLE app.users OWNER TO whynot_owner",
    )
    assert project.deploy().code != 0
    done = psql_file(project, repair_file(project), search_path="app,public")
    assert done.returncode == 0, done.stderr
    assert query(
        project.target_db, "SELECT confrelid::regclass::text FROM pg_constraint WHERE conname = 'rooms_created_by_fkey'"
    ) == [("users",)]
    query(project.target_db, "DROP SCHEMA app CASCADE")
    again = project.deploy()
    assert again.code == 0, again.output[-3000:]
    assert not repair_file(project).exists()


@pytest.mark.parametrize(
    "drift, word",
    [
        ("ALTER TABLE users ENABLE ROW LEVEL SECURITY", "row_security"),
        ("CREATE POLICY mine ON users USING (true)", "policies"),
        ("CREATE RULE no_delete AS ON DELETE TO rooms DO INSTEAD NOTHING", "rules"),
        ("CREATE STATISTICS users_stats ON email, display_name FROM users", "statistics"),
        ("ALTER TABLE messages SET (fillfactor = 70)", "storage"),
    ],
)
def test_row_security_policies_rules_statistics_and_storage_are_part_of_the_schema(project, source_db, drift, word):
    assert project.deploy().code == 0
    query(project.target_db, f"SET ROLE whynot_owner; {drift}")
    drifted = project.deploy()
    assert drifted.code != 0, drifted.output[-3000:]
    assert word in drifted.output
    assert f"its {word.replace('_', '-')} differs" in repair_file(project).read_text()


def test_a_view_over_a_public_table_the_roles_schema_shadows_is_not_drift(project):
    """Fourth adversary pass on issue 27, finding 6: with <role>.t beside public.t, a view over public.t reads
    'public.t' on the target ("$user" hides public's t there) and 't' in the proof, whose "$user" was its own
    role: 'view v: definition differs' after a good apply. The proof's snapshot resolves "$user" as the
    target does."""
    role = str(urlsplit(project.target_url).username)
    project.write_migration(
        "005_v.sql",
        f"CREATE SCHEMA {role};\nCREATE TABLE {role}.t (id int);\nCREATE TABLE public.t (id int, x int);\n"
        "CREATE VIEW public.v AS SELECT id, x FROM public.t;\n"
        "CREATE MATERIALIZED VIEW public.mv AS SELECT id, x FROM public.t;\n",
    )
    done = project.deploy()
    assert done.code == 0, done.output
    again = project.deploy()
    assert again.code == 0, again.output
