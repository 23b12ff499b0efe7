"""
Issue 29 class 2 (cascades): COPY_CONFLICT=replace of a parent must not remove or change, through
ON DELETE CASCADE / SET NULL / SET DEFAULT, target rows the source does not have; every row it
removes or changes is counted in the plan. PostgreSQL is the oracle (the target's rows, compared by
an independent fingerprint); the application's rows are written by a second session.
"""

from __future__ import annotations

import pytest

from tasks.data import copy as datacopy
from tests.copy_support import fingerprints, migrate_target, same_schema
from tests.support import admin, query

pytestmark = pytest.mark.cluster

OWNER = "SET ROLE whynot_owner;"


def _schema(action: str, grandchild: bool = False) -> str:
    ddl = ("CREATE TABLE parent (id int PRIMARY KEY, v text);"
           f"CREATE TABLE child (id int PRIMARY KEY, parent_id int DEFAULT 1 REFERENCES parent ON DELETE {action});")
    if grandchild:
        ddl += "CREATE TABLE grandchild (id int PRIMARY KEY, child_id int REFERENCES child ON DELETE CASCADE);"
    return ddl


def _app_writes(target_db: str, text: str) -> None:
    with admin("target", target_db) as app:
        app.execute("SET ROLE whynot_owner")
        app.execute(text)


@pytest.mark.parametrize("action", ["CASCADE", "SET NULL", "SET DEFAULT"])
def test_a_replace_that_would_remove_or_change_rows_the_source_lacks_is_refused_naming_them(services, source_db,
                                                                                              action):
    """Old code: the child's rows were deleted (or set to NULL/default) without a word."""
    migrate_target(services.target_url)
    ddl = _schema(action)
    query(source_db, ddl + "INSERT INTO parent VALUES (1, 'a'), (2, 'b');", which="source")  # child: empty
    query(services.target_db, OWNER + ddl + "INSERT INTO parent VALUES (1, 'a'), (2, 'changed');")
    _app_writes(services.target_db, "INSERT INTO child VALUES (1, 2), (2, 2), (3, NULL)")
    before = fingerprints(services.target_db, "target")
    for _ in range(2):
        with pytest.raises(datacopy.CopyError) as refused:
            datacopy.copy_data("source", "target", True, lambda line: None)
        verb = "removes" if action == "CASCADE" else "changes"
        assert (f"COPY_CONFLICT=replace of public.parent {verb} 2 row(s) of public.child through its "
                f"ON DELETE {action} key child_parent_id_fkey") in str(refused.value)
        assert fingerprints(services.target_db, "target") == before


def test_a_cascade_reaching_a_grandchild_the_source_lacks_is_refused(services, source_db):
    migrate_target(services.target_url)
    ddl = _schema("CASCADE", grandchild=True)
    rows = "INSERT INTO parent VALUES (1, 'a'); INSERT INTO child VALUES (1, 1);"
    query(source_db, ddl + rows, which="source")
    query(services.target_db, OWNER + ddl + rows + "UPDATE parent SET v = 'changed';")
    _app_writes(services.target_db, "INSERT INTO grandchild VALUES (7, 1)")
    before = fingerprints(services.target_db, "target")
    with pytest.raises(datacopy.CopyError) as refused:
        datacopy.copy_data("source", "target", True, lambda line: None)
    assert "of public.child removes 1 row(s) of public.grandchild through its ON DELETE CASCADE key" \
        in str(refused.value)
    assert fingerprints(services.target_db, "target") == before


def test_a_child_equal_to_the_source_is_counted_in_the_plan_and_reloaded(project, source_db):
    """Through the real CLI: the dry run names the cascade and its count; the run reloads the child;
    a second run changes nothing."""
    project.extra["DATA_MIGRATION"] = "copy"
    project.seeds = project.tmp / "no-seed"  # the copy alone
    ddl = _schema("CASCADE")
    same_schema(project, source_db, ddl)
    query(source_db, "INSERT INTO parent VALUES (1, 'a'), (2, 'b'); INSERT INTO child VALUES (1, 1), (2, 2);",
          which="source")
    assert project.deploy().code == 0
    query(project.target_db, "UPDATE parent SET v = 'changed' WHERE id = 2")
    dry = project.dry(COPY_CONFLICT="replace")
    assert "replacing public.parent removes 2 row(s) of public.child through its ON DELETE CASCADE key " \
           "child_parent_id_fkey: reloaded from the source (2 rows)" in dry.output, dry.output[-3000:]
    run = project.deploy(COPY_CONFLICT="replace")
    assert run.code == 0, run.output[-2500:]
    assert fingerprints(project.target_db, "target") == fingerprints(source_db, "source")
    again = project.deploy(COPY_CONFLICT="replace")
    assert again.operations()["Data copied"] == "no_change", again.output[-2500:]


def test_the_dry_run_refuses_a_cascade_before_any_backup(project, source_db):
    project.extra["DATA_MIGRATION"] = "copy"
    project.seeds = project.tmp / "no-seed"  # the copy alone
    same_schema(project, source_db, _schema("CASCADE"))
    query(source_db, "INSERT INTO parent VALUES (1, 'a');", which="source")
    assert project.deploy().code == 0
    query(project.target_db, "UPDATE parent SET v = 'changed'; INSERT INTO child VALUES (5, 1);")
    backups = project.tmp / "backups" / "target"
    listed = sorted(backups.glob("*")) if backups.exists() else []
    for result in (project.dry(COPY_CONFLICT="replace"), project.deploy(COPY_CONFLICT="replace")):
        assert result.code != 0
        assert "COPY_CONFLICT=replace of public.parent removes 1 row(s) of public.child" in result.output, \
            result.output[-3000:]
        assert (sorted(backups.glob("*")) if backups.exists() else []) == listed
    assert query(project.target_db, "SELECT count(*) FROM child")[0][0] == 1


def test_replacing_one_leaf_partition_counts_only_the_rows_that_reference_it(services, source_db):
    """Tester's finding 8. Old code: replacing pp_1 was refused for "1 row(s) of public.pc" though
    that row references pp_2. Oracle: the target's own DELETE, rolled back."""
    migrate_target(services.target_url)
    ddl = ("CREATE TABLE pp (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);"
           "CREATE TABLE pp_1 PARTITION OF pp FOR VALUES FROM (0) TO (10);"
           "CREATE TABLE pp_2 PARTITION OF pp FOR VALUES FROM (10) TO (20);"
           "CREATE TABLE pc (id int PRIMARY KEY, pp_id int REFERENCES pp ON DELETE CASCADE);")
    rows = "INSERT INTO pp VALUES (1, 'a'), (11, 'b');"
    query(source_db, ddl + rows + "UPDATE pp SET v = 'changed' WHERE id = 1;", which="source")
    query(services.target_db, OWNER + ddl + rows)
    _app_writes(services.target_db, "INSERT INTO pc VALUES (1, 11)")
    with admin("target", services.target_db) as oracle:
        oracle.execute("BEGIN; DELETE FROM ONLY pp_1")
        removed = 1 - oracle.execute("SELECT count(*) FROM pc").fetchone()[0]
        oracle.execute("ROLLBACK")
    assert removed == 0
    plan = datacopy.copy_data("source", "target", True, lambda line: None)
    assert plan.replace == ["public.pp_1"]
    assert query(services.target_db, "SELECT count(*) FROM pc") == [(1,)]
    assert query(services.target_db, "SELECT v FROM pp WHERE id = 1") == [("changed",)]
