"""The copy's foresight (:mod:`tasks.data.plan`): the source against the expected schema, before any change."""

from tasks.data.plan import Relation, Side, expected_tables, foreseen_refusals, pending, refusal

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
    assert problems == ["table public.track: column rating is in the schema after the pending migrations but not in "
                        "the source: nothing was changed; make the same change in the source first (or use "
                        "DATA_MIGRATION=fresh)"]
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
