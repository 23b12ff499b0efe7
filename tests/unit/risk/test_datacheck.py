"""The data checks' queries (quoted names, the file's CHECK deparsed) and when a check is skipped."""

from tasks.migrations.sqlsplit import split_statements
from tasks.risk.checks import DataCheck
from tasks.risk.datacheck import check_sql
from tasks.risk.names import scopes
from tasks.risk.runstate import walk
from tasks.risk.size import TableSize

TABLE = TableSize('"Odd"', 'public."Odd"', 8192, 10, 0, 1, 0, '"Id"')


def test_queries_quote_what_they_name():
    notnull = check_sql(DataCheck("notnull", ('we"ird',)), TABLE, None)
    assert 'FROM public."Odd" AS c WHERE c."we""ird" IS NULL' in notnull and 'row("Id")::text' in notnull
    assert notnull.startswith("SET LOCAL statement_timeout = '30s'")
    unique = check_sql(DataCheck("unique", ("a", "B")), TABLE, None)
    assert 'GROUP BY c."a", c."B" HAVING count(*) > 1' in unique


def test_a_foreign_key_needs_its_parent_on_the_target():
    fk = DataCheck("foreign key", ("room_id",), references="rooms", ref_columns=("id",))
    assert check_sql(fk, TABLE, None) is None
    parent = TableSize("rooms", "rooms", 8192, 1, 0, 1, 0, "id")
    assert 'NOT EXISTS (SELECT 1 FROM rooms AS p WHERE p."id" = c."room_id")' in check_sql(fk, TABLE, parent)


def test_earlier_writes_or_code_make_the_targets_rows_not_the_ones_met():
    sql = (
        "UPDATE m SET a = 1;\nALTER TABLE m ALTER a SET NOT NULL;\n"
        "DO $$BEGIN END$$;\nALTER TABLE n ALTER a SET NOT NULL"
    )
    before = walk([("f.sql", s.line, s.kind, s.node, s.text) for s in split_statements(sql)])
    assert not before[("f.sql", 1)].rows_differ("m") and before[("f.sql", 2)].rows_differ("m")
    assert before[("f.sql", 4)].rows_differ("n")


def test_a_write_to_another_table_may_change_any_rows():
    """Tester item 8: an INSERT into another table fires a trigger that fixes bigt's rows: the check of
    bigt was run (and refused) although the rows it read are not the ones the statement meets."""
    sql = "INSERT INTO audit VALUES (1);\nALTER TABLE bigt ALTER k SET NOT NULL"
    before = walk([("f.sql", s.line, s.kind, s.node, s.text) for s in split_statements(sql)])
    assert before[("f.sql", 2)].rows_differ("bigt")


def test_a_table_without_a_primary_key_names_the_row_by_its_ctid():
    """Tester item 12: 'e.g. key (0,2)' was a ctid read as a key."""
    from tasks.risk.checks import DataCheck
    from tasks.risk.classify import Risk
    from tasks.risk.datacheck import Failure

    risk = Risk("005.sql", 1, "bigt", "ACCESS EXCLUSIVE", validation="NOT NULL", check=DataCheck("notnull", ("k",)))
    assert "(e.g. row at ctid (0,2))" in Failure(risk, 3, "(0,2)", by_ctid=True).message
    assert "(e.g. key (7))" in Failure(risk, 3, "(7)").message


def test_an_operator_class_of_its_own_is_said_not_counted():
    """Where equality is the index's operator class's, no exact count can be made: no query, a reason."""
    from tasks.risk.classify import statement_risks

    (statement,) = split_statements("CREATE UNIQUE INDEX i ON t (name text_pattern_ops)")
    (risk,) = statement_risks("f.sql", 1, statement.kind, statement.node, statement.text)
    assert risk.check is not None and "text_pattern_ops" in risk.check.inexact
    assert check_sql(risk.check, TABLE, None) is None


def planned(sql: str, table: TableSize) -> list:
    """What each data check of ``sql`` (one file) would count on ``table`` (named t)."""
    from tasks.risk.classify import statement_risks
    from tasks.risk.meets import plan

    statements = split_statements(sql)
    states = walk([("f.sql", s.line, s.kind, s.node, s.text) for s in statements])
    risks = [r for s in statements for r in statement_risks("f.sql", s.line, s.kind, s.node, s.text)]
    return [plan(r, table, states[(r.file, r.line)], {"t": table}) for r in risks if r.check is not None]


T = TableSize("t", "t", 8192, 10, 0, 1, 0, "id", columns=("id", "name"))


def test_a_new_column_with_a_value_for_its_rows_needs_no_check():
    for sql in (
        "ALTER TABLE t ADD COLUMN x int NOT NULL DEFAULT 0",
        "ALTER TABLE t ADD COLUMN x bigserial NOT NULL",
        "ALTER TABLE t ADD COLUMN x int GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        "ALTER TABLE t ADD COLUMN x text",
    ):
        for todo in planned(sql, T):
            if todo.check is not None:  # counted over the new column's value: a constant that cannot be NULL
                assert todo.check.kind == "new notnull" and '(0)::integer AS "x"' in todo.relation.as_string(None)


def test_the_run_state_follows_the_runs_own_ddl():
    """Adversary findings 2, 3, 4: what earlier statements did, as the checks must see it."""
    sql = (
        "SELECT pg_catalog.set_config('search_path', 'app', false);\nALTER TABLE items ADD UNIQUE (id);\n"
        "ALTER TABLE tags RENAME TO tags_old;\nALTER TABLE loose SET SCHEMA other;\nDROP TABLE gone;\n"
        "ALTER TABLE t RENAME COLUMN a TO b;\n"
        "ALTER TABLE t ALTER c TYPE bigint USING coalesce(c, 0), ALTER c SET NOT NULL;\n"
        "TRUNCATE x;\nSELECT 1"
    )
    before = walk([("f.sql", s.line, s.kind, s.node, s.text) for s in split_statements(sql)])
    assert not before[("f.sql", 2)].rows_differ("app.items")  # set_config is no code of the user's
    state = before[("f.sql", 7)]
    # dropped: made in this run; renamed or moved: the target's table and rows, by its name on the target
    assert state.remade == {"app.gone"}
    scope = scopes([("f.sql", s.kind, s.node) for s in split_statements(sql)], None)["f.sql"][6]
    assert (scope.qualify("tags_old"), scope.qualify("other.loose"), scope.qualify("tags")) == (
        "app.tags",
        "app.loose",
        "app.tags",
    )
    assert {("app.t", "a"), ("app.t", "b")} <= state.columns
    assert state.rows_differ("app.t") and not state.rows_differ("app.u")  # ALTER TYPE … USING: that table's rows
    assert before[("f.sql", 9)].rows_differ("app.u") == "an earlier statement of the file changes the rows"


def test_a_table_created_in_the_run_is_empty_until_something_may_write_it():
    """A foreign key to such a parent counts every child row with its key set (third adversary pass on
    issue 27, finding 9); a write, code, an attached partition or an inheriting child ends it."""
    sql = (
        "CREATE TABLE p (id int PRIMARY KEY);\nCREATE TABLE q (id int);\nALTER TABLE q ATTACH PARTITION x "
        "FOR VALUES IN (1);\nCREATE TABLE r (id int);\nALTER TABLE y INHERIT r;\nSELECT 1;\nSELECT 2"
    )
    before = walk([("f.sql", s.line, s.kind, s.node, s.text) for s in split_statements(sql)])
    assert before[("f.sql", 2)].empty == {"p"}
    assert before[("f.sql", 4)].empty == {"p"}  # q had a partition attached
    assert before[("f.sql", 6)].empty == {"p"}  # r has an inheriting child
    assert before[("f.sql", 7)].empty == set()  # code ran


def test_a_foreign_key_to_an_empty_parent_counts_the_rows_with_their_key_set():
    check = DataCheck("foreign key", ("a", "b"), references="p", match_full=True, parent_empty=True)
    text = check_sql(check, TableSize("t", "public.t", 1, 1, 0, 1, 0, "id"), None)
    assert text is not None and "NOT EXISTS" not in text and "num_nulls" in text


def test_attaching_detaching_or_inheriting_changes_the_parents_rows():
    """Fourth adversary pass on issue 27, findings 4 and 5: after INHERIT, NO INHERIT, ATTACH or DETACH
    PARTITION the parent's rows are not the target's; EXPLAIN ANALYZE and CREATE TABLE AS run code."""
    for change in (
        "ALTER TABLE c INHERIT p",
        "ALTER TABLE c NO INHERIT p",
        "ALTER TABLE p DETACH PARTITION c",
        "ALTER TABLE p ATTACH PARTITION c FOR VALUES IN (1)",
    ):
        before = walk([("f.sql", s.line, s.kind, s.node, s.text) for s in split_statements(f"{change};\nSELECT 1")])
        assert before[("f.sql", 2)].rows_differ("p"), change
    for code in ("EXPLAIN ANALYZE SELECT f()", "CREATE TABLE z AS SELECT f()"):
        before = walk([("f.sql", s.line, s.kind, s.node, s.text) for s in split_statements(f"{code};\nSELECT 1")])
        assert before[("f.sql", 2)].everywhere, code
