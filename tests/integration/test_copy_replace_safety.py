"""
A COPY_CONFLICT=replace against an application that keeps writing (tester's findings 1-3): the
replaced table and the children its DELETE cascades to are checked again under lock, deleted and
reloaded in one transaction, with the user triggers of every table reached off; a DELETE rule on a
table reached is refused before the backup. PostgreSQL is the oracle; a second session is the app.
"""

from __future__ import annotations

import pytest

from tasks.data import copy as datacopy
from tests.copy_support import fingerprints, migrate_target
from tests.support import admin, query

pytestmark = pytest.mark.cluster

OWNER = "SET ROLE whynot_owner;"
DDL = ("CREATE TABLE parent (id int PRIMARY KEY, v text);"
       "CREATE TABLE child_eq (id int PRIMARY KEY, parent_id int REFERENCES parent ON DELETE CASCADE);")
ROWS = ("INSERT INTO parent SELECT g, 'v' || g FROM generate_series(1, 5) g;"
        "INSERT INTO child_eq SELECT g, g FROM generate_series(1, 5) g;")


def _pair(source_db: str, target_db: str, extra: str = "", source_extra: str = "") -> None:
    """Both sides equal, then the source's parent row 3 changed: a replace of public.parent is due."""
    query(source_db, DDL + ROWS + "UPDATE parent SET v = 'x' WHERE id = 3;" + source_extra, which="source")
    query(target_db, OWNER + DDL + ROWS + extra)


def _app(target_db: str, text: str) -> None:
    with admin("target", target_db) as app:
        app.execute("SET ROLE whynot_owner")
        app.execute(text)


def test_rows_the_app_commits_during_a_replace_are_not_deleted(services, source_db):
    """Old code: the 150 rows the app committed after the plan were removed by the cascade, exit 0."""
    migrate_target(services.target_url)
    _pair(source_db, services.target_db)

    def app_inserts() -> None:  # runs where the backup is taken: after the plan, before the replace
        for n in range(150):
            _app(services.target_db, f"INSERT INTO child_eq VALUES ({100 + n}, {n % 5 + 1})")

    before_parent = query(services.target_db, "SELECT v FROM parent WHERE id = 3")
    with pytest.raises(datacopy.CopyError) as refused:
        datacopy.copy_data("source", "target", True, lambda line: None, app_inserts)
    assert "public.child_eq" in str(refused.value) and "155" in str(refused.value), refused.value
    assert "rolled back" in str(refused.value)
    assert query(services.target_db, "SELECT count(*) FROM child_eq")[0][0] == 155
    assert query(services.target_db, "SELECT v FROM parent WHERE id = 3") == before_parent


def test_an_update_in_place_of_a_cascade_child_during_a_replace_is_not_undone(services, source_db):
    migrate_target(services.target_url)
    _pair(source_db, services.target_db)
    with pytest.raises(datacopy.CopyError) as refused:
        datacopy.copy_data("source", "target", True, lambda line: None,
                           lambda: _app(services.target_db, "UPDATE child_eq SET parent_id = 1 WHERE id = 2"))
    assert "public.child_eq, which changed since the plan" in str(refused.value)
    assert query(services.target_db, "SELECT parent_id FROM child_eq WHERE id = 2")[0][0] == 1


def test_the_parent_and_its_cascade_children_are_replaced_in_one_transaction(services, source_db):
    """Old code: when "public.parent: replaced" was said, child_eq was committed empty (reloaded in a
    later transaction: the app saw it empty, a kill there left it empty)."""
    migrate_target(services.target_url)
    _pair(source_db, services.target_db)
    seen: list[int] = []

    def log(line: str) -> None:
        if line.startswith("public.parent: replaced"):
            seen.append(query(services.target_db, "SELECT count(*) FROM child_eq")[0][0])

    datacopy.copy_data("source", "target", True, log)
    assert seen == [5]
    assert fingerprints(services.target_db, "target") == fingerprints(source_db, "source")


def test_triggers_of_the_tables_a_replace_cascades_to_stay_off(services, source_db):
    """Old code: the child's AFTER DELETE trigger deleted the app's rows of public.side, and a
    statement trigger of a grandchild with no rows wrote to a log table."""
    migrate_target(services.target_url)
    extra = ("CREATE TABLE side (id int PRIMARY KEY); INSERT INTO side SELECT generate_series(1, 5);"
             "CREATE TABLE log (at text);"
             "CREATE TABLE grand (id int PRIMARY KEY, child_id int REFERENCES child_eq ON DELETE CASCADE);"
             "CREATE FUNCTION gone() RETURNS trigger LANGUAGE plpgsql AS "
             "$$BEGIN DELETE FROM side WHERE id = OLD.id; RETURN OLD; END$$;"
             "CREATE TRIGGER gone AFTER DELETE ON child_eq FOR EACH ROW EXECUTE FUNCTION gone();"
             "CREATE FUNCTION logged() RETURNS trigger LANGUAGE plpgsql AS "
             "$$BEGIN INSERT INTO log VALUES (TG_TABLE_NAME); RETURN NULL; END$$;"
             "CREATE TRIGGER logged AFTER DELETE ON grand FOR EACH STATEMENT EXECUTE FUNCTION logged();")
    _pair(source_db, services.target_db, extra, "CREATE TABLE side (id int PRIMARY KEY); CREATE TABLE log (at text);"
          "CREATE TABLE grand (id int PRIMARY KEY, child_id int REFERENCES child_eq ON DELETE CASCADE);")
    datacopy.copy_data("source", "target", True, lambda line: None)
    assert query(services.target_db, "SELECT count(*) FROM side")[0][0] == 5
    assert query(services.target_db, "SELECT count(*) FROM log")[0][0] == 0
    assert query(services.target_db, "SELECT v FROM parent WHERE id = 3")[0][0] == "x"
    assert query(services.target_db, "SELECT count(*) FROM pg_trigger WHERE tgname IN ('gone', 'logged') "
                 "AND tgenabled = 'O'")[0][0] == 2


def test_a_replace_reaching_a_delete_rule_is_refused_before_the_backup(services, source_db):
    migrate_target(services.target_url)
    extra = ("CREATE TABLE side (id int PRIMARY KEY); INSERT INTO side SELECT generate_series(1, 5);"
             "CREATE RULE also AS ON DELETE TO child_eq DO ALSO DELETE FROM side WHERE id = OLD.id;")
    _pair(source_db, services.target_db, extra, "CREATE TABLE side (id int PRIMARY KEY);")
    backups: list[str] = []
    with pytest.raises(datacopy.CopyError) as refused:
        datacopy.copy_data("source", "target", True, lambda line: None, lambda: backups.append("taken"))
    assert "DELETE rule(s) also on public.child_eq" in str(refused.value)
    assert backups == []
    assert query(services.target_db, "SELECT count(*) FROM side")[0][0] == 5
