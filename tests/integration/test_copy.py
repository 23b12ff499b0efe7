"""
Data copied (DATA_MIGRATION=copy) through the real pyinfra CLI, between the sandbox's two real
clusters: a verified copy into an empty target, nothing on a rerun, a differing table refused
(or replaced after a backup), and a copy killed half-way finished by a rerun without duplicates.
"""

import os
import signal
import time

import pytest

from tests.copy_support import verified_rows
from tests.support import catalog_and_data, query, report_rows, table_fingerprints, wait_for_query

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters


def test_copy_into_empty_target_is_verified_and_a_rerun_yields_nothing(project, source_db):
    project.extra["DATA_MIGRATION"] = "copy"
    project.seeds = project.tmp / "no-seed"  # compare the copy alone
    first = project.deploy()
    assert first.code == 0, first.output[-2500:]
    assert "Data copied" in first.changed()
    assert report_rows(project.tmp / "reports")["Data copied"][0] == "changed"
    assert table_fingerprints(project.target_db, "target") == table_fingerprints(source_db, "source")
    # Sequences follow the source: the next id does not collide.
    state = "SELECT last_value, is_called FROM users_id_seq"
    assert query(project.target_db, state) == query(source_db, state, which="source")
    second = project.deploy()
    assert second.operations()["Data copied"] == "no_change"


def test_differing_table_is_refused_then_replaced_after_a_backup(project, source_db):
    project.extra["DATA_MIGRATION"] = "copy"
    project.seeds = project.tmp / "no-seed"  # compare the copy alone
    assert project.deploy().code == 0
    query(project.target_db, "UPDATE messages SET body = 'changed in production' WHERE id = 3")
    before = catalog_and_data(project.target_db)
    backups_before = len(list((project.tmp / "backups" / "target").glob("*.dump")))
    for _ in range(2):  # a refusal the plan knows takes no backup (repeated failures pruned good ones)
        refused = project.deploy()
        assert refused.code != 0
        assert "table public.messages in the target is not empty and differs from the source (500 rows there, 500 in " \
            "the source)" in refused.output
        assert catalog_and_data(project.target_db) == before
        assert len(list((project.tmp / "backups" / "target").glob("*.dump"))) == backups_before

    replaced = project.deploy(COPY_CONFLICT="replace")
    assert replaced.code == 0, replaced.output[-2500:]
    assert report_rows(project.tmp / "reports")["Data copied"][0] == "changed"
    assert len(list((project.tmp / "backups" / "target").glob("*.dump"))) == backups_before + 1
    assert table_fingerprints(project.target_db, "target") == table_fingerprints(source_db, "source")


@pytest.mark.long
def test_copy_killed_half_way_then_rerun_gives_equal_rows_without_duplicates(project, source_db):
    query(source_db, "INSERT INTO messages (room_id, user_id, body) SELECT 1 + g % 5, 1 + g % 50, "
                     "repeat(md5(g::text), 8) FROM generate_series(1, 400000) g", which="source")
    project.extra["DATA_MIGRATION"] = "copy"
    project.seeds = project.tmp / "no-seed"  # compare the copy alone
    process = project.start()
    wait_for_query(project.target_db, "COPY%FROM STDIN%", process)
    time.sleep(0.3)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    query("postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                      "AND application_name = 'pgconverge'", (project.target_db,))
    copied = query(project.target_db, "SELECT count(*) FROM messages")[0][0]
    # all of it, or (a table over COPY_SPLIT_MB, copied in ranges) exactly the ranges verified
    assert copied in (400500, verified_rows(project.target_db, "public.messages")), f"unverified rows: {copied}"

    rerun = project.deploy()
    assert rerun.code == 0, rerun.output[-2500:]
    assert table_fingerprints(project.target_db, "target") == table_fingerprints(source_db, "source")


def test_replace_reloads_a_table_other_tables_reference_with_no_action_keys(project, source_db):
    """Adversary finding 4: COPY_CONFLICT=replace failed on 'violates foreign key constraint
    child_big_id_fkey' for a table referenced by a NO ACTION foreign key."""
    from tests.copy_support import same_schema

    project.extra["DATA_MIGRATION"] = "copy"
    project.seeds = project.tmp / "no-seed"
    same_schema(project, source_db, "CREATE TABLE big (id int PRIMARY KEY, v text);"
                "CREATE TABLE child (id int PRIMARY KEY, big_id int REFERENCES big);")
    query(source_db, "INSERT INTO big SELECT g, 'v' || g FROM generate_series(1, 50) g;"
          "INSERT INTO child SELECT g, g FROM generate_series(1, 50) g", which="source")
    assert project.deploy().code == 0
    query(project.target_db, "UPDATE big SET v = 'changed' WHERE id = 7")
    replaced = project.deploy(COPY_CONFLICT="replace")
    assert replaced.code == 0, replaced.output[-2500:]
    assert report_rows(project.tmp / "reports")["Data copied"][0] == "changed"
    assert table_fingerprints(project.target_db, "target") == table_fingerprints(source_db, "source")
    assert query(project.target_db, "SELECT count(*) FROM pg_constraint WHERE conname = 'child_big_id_fkey'")[0][0] == 1
    assert project.deploy().operations()["Data copied"] == "no_change"
