"""The copy's plan (:mod:`tasks.data.plan`), its sides (:mod:`tasks.data.sides`) and its refusals
(:mod:`tasks.data.refusals`): the source against the target or the expected schema, before any change."""

from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.data import check
from tasks.data import plan as copyplan
from tasks.data import sides as copysides
from tasks.data.copy import TableState, compare, dependency_order, load_groups
from tasks.data.plan import pending
from tasks.data.refusals import column_problems, expected_tables, foreseen_refusals, refusal
from tasks.data.sides import Relation, Side

CATALOG = {"tables": {
    "public.track": {"kind": "table", "columns": {
        "id": {"position": 1, "type": "integer"}, "name": {"position": 2, "type": "text"},
        "rating": {"position": 3, "type": "integer"},
        "score": {"position": 4, "type": "integer", "generated": "(rating * 2)"}}},
    "public.events": {"kind": "partitioned table", "columns": {"id": {"position": 1, "type": "bigint"}}},
}}


def _source(columns: dict[str, str], rows: int = 3) -> Side:
    return Side(tables={"public.track": Relation("public.track", "", rows, "x")},
                columns={"public.track": columns}, plain={"public.track": "public.track"})


def test_the_expected_schema_gives_the_written_columns_of_tables_that_hold_rows():
    assert expected_tables(CATALOG) == {"public.track": {"id": "integer", "name": "text", "rating": "integer"}}


def test_a_column_the_migrations_add_that_the_source_lacks_is_refused_before_anything_changes():
    source = _source({"id": "integer", "name": "text"})
    problems = foreseen_refusals(source, expected_tables(CATALOG))
    assert problems == [("table public.track: column rating is in the schema after the pending migrations but not in "
                        "the source: nothing was changed; make the same change in the source first (or use "
                        "DATA_MIGRATION=fresh)")]
    target = Side(tables={"public.track": Relation("public.track", "", 3, "x")},
                  columns={"public.track": {"id": "integer", "name": "text"}})
    assert refusal(source, target, pending(source, target, False), True, expected_tables(CATALOG)) == problems[0]
    # the same source against the target as it is now: nothing to say (the old blind spot)
    assert refusal(source, target, pending(source, target, False), True) is None


def test_a_source_that_made_the_change_first_passes_and_its_rows_are_compared_after_the_migrations():
    source = _source({"id": "integer", "name": "text", "rating": "integer"})
    target = Side(tables={"public.track": Relation("public.track", "", 3, "other")},
                  columns={"public.track": {"id": "integer", "name": "text"}})
    assert foreseen_refusals(source, expected_tables(CATALOG)) == []
    assert refusal(source, target, pending(source, target, False), True, expected_tables(CATALOG)) is None


def test_a_table_the_migrations_drop_and_a_type_they_change_are_refused():
    assert "is not in the schema after the pending migrations" in foreseen_refusals(_source({"id": "integer"}), {})[0]
    typed = foreseen_refusals(_source({"id": "bigint", "name": "text", "rating": "integer"}), expected_tables(CATALOG))
    assert typed[0].startswith("table public.track: column id is bigint in the source but integer in the schema after")
    assert foreseen_refusals(_source({"id": "bigint"}, rows=0), {}) == []  # an empty source table brings nothing




def _side(tables=(), views=(), sequences=None, unpopulated=()):
    return Side(tables={r.name: r for r in tables}, views={r.name: r for r in views}, sequences=sequences or {},
                unpopulated_views=set(unpopulated))


def test_empty_fact_output_is_an_empty_database_not_a_missing_psql():
    side = copysides.parse([["end", "", ""]])
    assert side == Side()
    assert "SELECT 'end'" in copysides.script()


def test_partitions_are_shown_under_their_parent_with_row_counts():
    source = _side([Relation('"S".m_1', '"S".m', 10, ""), Relation('"S".m_2', '"S".m', 5, ""),
                    Relation("public.users", "", 3, "")], sequences={"public.users_id_seq": (4, 1)})
    target = _side()
    todo = copyplan.pending(source, target, replace=False)
    assert todo.missing == ['"S".m_1', '"S".m_2', "public.users"]
    assert copyplan.plan_lines(source, target, todo) == [
        'copy 15 rows into "S".m (2 partition(s) or child table(s)):', '  "S".m_1: 10 rows', '  "S".m_2: 5 rows',
        "copy 3 rows into public.users", "move sequence public.users_id_seq forward to the source's (next value 4)"]


def test_nothing_pending_when_rows_views_and_sequences_match():
    same = _side([Relation("public.a", "", 2, "9")], [Relation("public.v", "", 1, "4")], {"public.a_id_seq": (3, 1)})
    assert not copyplan.pending(same, same, replace=False).anything


def test_an_unpopulated_or_resized_view_is_refreshed_and_a_lagging_sequence_set():
    source = _side(views=[Relation("public.v", "", 1, "4"), Relation("public.w", "", 2, "5"),
                          Relation("public.x", "", 3, "7")], sequences={"public.s": (11, 1)})
    target = _side(views=[Relation("public.w", "", 1, "6"), Relation("public.x", "", 3, "8")],
                   unpopulated=["public.v"], sequences={"public.s": (10, 1)})
    todo = copyplan.pending(source, target, replace=False)
    # x: same row count, rows aggregated in another order: derived rows are not compared one by one
    assert sorted(todo.views) == ["public.v", "public.w"] and todo.sequences == [("public.s", 11)]


def test_every_view_is_refreshed_when_tables_are_written():
    source = _side([Relation("public.a", "", 2, "9")], [Relation("public.x", "", 3, "7")])
    target = _side([Relation("public.a", "", 0, "0")], [Relation("public.x", "", 3, "7")])
    assert copyplan.pending(source, target, replace=False).views == ["public.x"]


def test_a_differing_table_is_a_conflict_or_with_replace_a_reload():
    source, target = _side([Relation("public.a", "", 2, "9")]), _side([Relation("public.a", "", 2, "8")])
    assert copyplan.pending(source, target, replace=False).conflicts
    assert copyplan.pending(source, target, replace=True).replace == ["public.a"]


def test_engine_compare_copies_into_empty_tables_without_the_source_checksum():
    plan = compare({"a": TableState("a", 1, None), "b": TableState("b", 0, None)},
                   {"a": TableState("a", 0, "0"), "b": TableState("b", 0, "0")}, ["a", "b"], False)
    assert plan.copy == ["a"] and plan.in_sync == ["b"]


def test_a_half_copied_table_emptied_in_the_source_is_copied_on_to_no_rows():
    """Issue 30, finding 6: its target rows are the ranges an earlier run copied: finished, not left."""
    source, target = {"a": TableState("a", 0, None)}, {"a": TableState("a", 0, None)}
    assert compare(source, target, ["a"], False, frozenset({"a"})).copy == ["a"]
    emptied = Side(tables={"public.a": Relation("public.a", "", 0, "")})
    half = Side(tables={"public.a": Relation("public.a", "", 40, "")}, resuming={"public.a"})
    assert copyplan.pending(emptied, half, replace=False).copy == ["public.a"]


def test_columns_on_one_side_only_are_named_quoted_with_the_fix():
    problems = column_problems("public.pets", ["id", "name"], ["id", "Nick Name"])
    assert problems == [
        ("table public.pets: column name is in the source but not in the target: add it in a migration "
        "(or drop it from the source)"),
        ('table public.pets: column "Nick Name" is in the target but not in the source: drop it in a migration or '
        "add it to the source (a generated column is left to the target)")]
    assert column_problems("public.pets", ["id", "name"], ["name", "id"]) == []


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(st.sampled_from("abcdefgh"), st.sets(st.sampled_from("abcdefgh"), max_size=3), max_size=8))
def test_dependency_order_puts_every_table_after_the_ones_it_references(references):
    tables = sorted(set(references) | {t for refs in references.values() for t in refs})
    order = dependency_order(tables, references)
    assert sorted(order) == tables
    # without cycles, every reference comes first
    def reaches(a, b, seen=()):
        return any(r == b or (r not in seen and reaches(r, b, seen + (r,))) for r in references.get(a, ()) if r != a)
    for table in tables:
        for ref in references.get(table, ()):
            if ref != table and not reaches(ref, table):
                assert order.index(ref) < order.index(table)


def test_completeness_names_every_relation_that_differs_or_is_missing():
    source = {"public.a": (2, "9"), "public.b": (0, "0"), "public.c": (3, "1"), "public.d": (1, "5")}
    target = {"public.a": (2, "9"), "public.c": (3, "2")}
    assert check.incomplete({"public.v": (3, "1")}, {"public.v": (3, "2")}, (0, 0), frozenset({"public.v"})) == []
    assert check.incomplete(source, target, (1, 0)) == [
        "public.c: 3 rows in the source, 3 in the target with another checksum",
        "public.d: 1 rows in the source, no such relation in the target",
        "large objects: 1 in the source, 0 in the target",
    ]


def test_tables_on_a_foreign_key_cycle_load_as_one_group_after_what_they_reference():
    references = {"staff": {"store", "address"}, "store": {"staff", "address"}, "payment": {"staff"}}
    assert load_groups(["payment", "staff", "store", "address"], references) == [
        ("address",), ("staff", "store"), ("payment",)]


def test_refusals_name_large_objects_missing_tables_only_at_execute_time_and_conflicts():
    source = _side([Relation("public.a", "", 2, "9")])
    source.large_objects = (7, "1, 2, 3, 4, 5")
    assert refusal(source, Side(), copyplan.Pending(), planning=False).startswith(
        "the source has 7 large object(s) (oid 1, 2, 3, 4, 5, …): the copy does not move large objects")
    source.large_objects = (0, "")
    missing = copyplan.pending(source, _side(), replace=False)
    assert refusal(source, Side(), missing, planning=True) is None  # the migrations may create it
    assert "table public.a exists in the source but not in the target" in refusal(source, Side(), missing, False)
    conflict = copyplan.pending(source, _side([Relation("public.a", "", 3, "1")]), replace=False)
    assert "(3 rows there, 2 in the source)" in refusal(source, Side(), conflict, True)


def test_a_column_type_difference_is_refused_naming_table_column_and_both_types():
    source = _side([Relation("public.pets", "", 1, "")])
    source.columns = {"public.pets": {"id": "integer", "name": "text", "born": "bigint"}}
    target = _side([Relation("public.pets", "", 0, "")])
    target.columns = {"public.pets": {"id": "integer", "born": "timestamp without time zone", "name": "text"}}
    todo = copyplan.pending(source, target, replace=False)
    problem = refusal(source, target, todo, planning=True)
    assert problem == ("table public.pets: column born is bigint in the source but timestamp without time zone in the "
                       "target: nothing was copied; give it the same type on both sides in a migration")
    target.columns["public.pets"]["born"] = "bigint"
    assert refusal(source, target, todo, planning=True) is None  # same types, another order: fine


def test_copy_jobs_are_capped_by_the_target_free_connections_less_a_reserve():
    assert copyplan.capped_jobs(40, free=19) == 16
    assert copyplan.capped_jobs(4, free=19) == 4
    assert copyplan.capped_jobs(8, free=2) == 1  # never below one


def test_only_connection_and_disk_faults_are_told_to_check_the_target_and_run_again():
    """Adversary finding 12: deterministic errors (a constraint, a trigger) got "check the target
    (running, disk space) and run again", which never helps."""
    import psycopg

    from tasks.data.loader import fault as _fault

    lost = _fault("public.a", psycopg.OperationalError("server closed the connection unexpectedly"))
    full = _fault("public.a", psycopg.errors.DiskFull("could not extend file"))
    for fault in (lost, full):
        assert "check the target (running, disk space) and run again" in str(fault)
    for exc in (psycopg.errors.ForeignKeyViolation('violates foreign key constraint "child_big_id_fkey"'),
                psycopg.errors.CheckViolation("new row violates partition constraint"),
                psycopg.errors.SyntaxError('syntax error at or near ")"')):
        fault = str(_fault("public.a", exc))
        assert "running, disk space" not in fault and "a rerun fails the same way" in fault
        assert str(exc) in fault


def test_the_dry_run_on_an_empty_target_lists_the_materialized_views_to_refresh():
    """Adversary finding 10: the plan on a fresh target did not name the views the copy refreshes."""
    source = _side([Relation("public.x", "", 3, "")], views=[Relation("public.v", "", 2, "")])
    todo = copyplan.pending(source, _side(), replace=False)
    assert "refresh materialized view public.v" in copyplan.plan_lines(source, _side(), todo)


def test_the_plan_shows_the_sequence_value_that_will_be_set_past_the_copied_rows():
    """Tester's finding 7: the plan said "next value 2" for a sequence the copy set to 32767."""
    source = _side([Relation("public.t", "", 3, "")], sequences={"public.t_id_seq": (2, 1)})
    source.sequence_columns["public.t_id_seq"] = (32766, 1)
    target = _side(sequences={"public.t_id_seq": (1, 1)})
    todo = copyplan.pending(source, target, replace=False)
    assert todo.sequences == [("public.t_id_seq", 32767)]
    assert "move sequence public.t_id_seq forward past the copied rows (next value 32,767)" \
        in copyplan.plan_lines(source, target, todo)
