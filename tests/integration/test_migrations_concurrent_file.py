"""
A different file applied under the same version by another deploy while this run was going is
named as such, not as "edited after it was applied". Real clusters; the other deploy is played by
an INSERT into schema_migrations while this run's proof (on the source cluster) sleeps.
"""

import time

import pytest

from tests.support import query

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters


def test_a_file_applied_by_another_deploy_during_this_run_is_named(project):
    assert project.deploy().code == 0
    project.write_migration(
        "005_tags.sql",
        "CREATE TABLE tags (id int);\n"
        f"SELECT pg_sleep(CASE WHEN current_database() <> '{project.target_db}' THEN 4 ELSE 0 END);\n",
    )
    process = project.start()
    deadline = time.monotonic() + 120
    # the engine sends each statement after its limits (SET LOCAL …; in the same round trip)
    while not query(
        "postgres",
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%SELECT pg_sleep(CASE%' AND pid <> pg_backend_pid()",
        which="source",
    )[0][0]:
        assert process.poll() is None and time.monotonic() < deadline, "the proof never slept"
        time.sleep(0.05)
    query(
        project.target_db, "INSERT INTO schema_migrations (version, name, checksum) VALUES (5, 'tags', %s)", ("a" * 64,)
    )
    out, err = process.communicate(timeout=120)
    assert process.returncode != 0
    lines = [line.split("pgconverge: ", 1)[1] for line in (out + err).splitlines() if "pgconverge: " in line]
    assert len(lines) == 1 and lines[0].startswith(
        "another deploy applied a different 005_tags.sql as version 5 while this run was going"
    ), (out + err)[-2500:]
