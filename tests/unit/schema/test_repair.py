"""The drift repair (pure): what is repaired, what is listed and left out."""

from __future__ import annotations

import pglast
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks.schema.repair import ident, plan_repair, qualified, widening, without_extras


def table(columns=None, constraints=None, triggers=None) -> dict:
    return {"kind": "table", "columns": columns or {"id": {"type": "integer", "default": None, "not_null": True}},
            "constraints": constraints or {}, "triggers": triggers or {}}


def snap(tables=None, indexes=None) -> dict:
    return {"tables": tables or {"public.t": table()}, "indexes": indexes or {}}


def test_an_extra_index_is_dropped_a_missing_one_recreated():
    extra = snap(indexes={"public.by_hand": {"definition": "CREATE INDEX by_hand ON public.t USING btree (id)"}})
    assert plan_repair(snap(), extra).statements == ("DROP INDEX IF EXISTS public.by_hand;",)
    assert plan_repair(extra, snap()).statements == ("CREATE INDEX by_hand ON public.t USING btree (id);",)


def test_constraints_defaults_and_widening_types_are_restored():
    fk = {"t_fk": {"type": "foreign key", "definition": "FOREIGN KEY (id) REFERENCES u(id)"}}
    check = {"t_check": {"type": "check", "definition": "CHECK (id > 0)"}}
    wanted = snap({"public.t": table({"id": {"type": "bigint", "default": "1", "not_null": True}}, {**fk, **check})})
    drifted = snap({"public.t": table({"id": {"type": "integer", "default": None, "not_null": False}}, check | {
        "extra": {"type": "unique", "definition": "UNIQUE (id)"}})})
    statements = plan_repair(wanted, drifted).statements
    assert statements == (
        "ALTER TABLE public.t DROP CONSTRAINT IF EXISTS extra;",
        "ALTER TABLE public.t ALTER COLUMN id TYPE bigint;",
        "ALTER TABLE public.t ALTER COLUMN id SET DEFAULT 1;",
        "ALTER TABLE public.t ALTER COLUMN id SET NOT NULL;",
        "ALTER TABLE public.t ADD CONSTRAINT t_fk FOREIGN KEY (id) REFERENCES u(id);",
    )


def test_what_would_lose_data_is_listed_and_left_out():
    wanted = snap({"public.t": table({"id": {"type": "integer"}, "gone": {"type": "text"}})})
    drifted = snap({"public.t": table({"id": {"type": "bigint"}, "more": {"type": "text"}}),
                    "public.notes": table(), "public.empty": table()})
    found = plan_repair(wanted, drifted, rows={"public.notes": 3, "public.empty": 0})
    assert found.statements[-1] == "DROP TABLE public.empty;" and len(found.statements) == 2
    text = " ".join(found.unrepairable)
    for words in ("column public.t.gone is missing", "column public.t.more is extra", "public.t.id is bigint",
                  "table public.notes is extra and holds 3 row(s)"):
        assert words in text
    assert "DROP TABLE public.notes" not in found.sql()


names = st.text("abc", min_size=1, max_size=3)
types = st.sampled_from(["integer", "bigint", "text", "character varying(10)", "boolean"])
columns = st.dictionaries(names, st.fixed_dictionaries({"type": types, "default": st.none() | st.just("0"),
                                                          "not_null": st.booleans()}), min_size=1, max_size=3)
snapshots = st.builds(lambda cols, idx: snap({"public.t": table(cols)}, {
    f"public.{name}": {"definition": f"CREATE INDEX {name} ON public.t (id)"} for name in idx}),
    columns, st.lists(names, max_size=3))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots)
def test_a_schema_needs_no_repair_against_itself(one):
    assert plan_repair(one, one).statements == () and plan_repair(one, one).unrepairable == ()


def test_widening_only():
    assert widening("integer", "bigint") and widening("character varying(10)", "character varying(20)")
    assert widening("character varying(10)", "text")
    assert not widening("bigint", "integer") and not widening("text", "character varying(10)")


def statements_of(text: str) -> list[str]:
    """The statements psql would run from ``text``, as PostgreSQL's own parser reads them."""
    return [type(raw.stmt).__name__ for raw in pglast.parse_sql(text)]


odd_names = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), min_size=1,
                    max_size=30)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(odd_names, odd_names)
def test_no_name_can_add_a_statement_to_the_file(table_name, index_name):
    """A name holding a newline (or any character) cannot end a comment line and smuggle a statement in:
    the file holds exactly BEGIN, the settings, the repair, COMMIT, and nothing after COMMIT."""
    extra_table = f"public.e_{table_name}"
    drifted = snap({"public.t": table(), extra_table + "x": table(), extra_table: table()}, {
        f"public.{index_name}": {"definition": f"CREATE INDEX {ident(index_name)} ON public.t (id)"}})
    found = plan_repair(snap(), drifted, rows={extra_table: 0, extra_table + "x": 5})
    text = found.sql(f"the drift of {table_name}\nnothing {index_name}")
    kinds = statements_of(text)
    assert kinds[0] == "TransactionStmt" and kinds[-1] == "TransactionStmt"
    assert kinds[1:3] == ["VariableSetStmt", "VariableSetStmt"]  # search_path, standard_conforming_strings
    assert kinds[3:] == ["DoStmt", "DropStmt", "DropStmt", "TransactionStmt"]
    after = text[text.rindex("COMMIT;") + len("COMMIT;"):]
    assert all(line.startswith("--") for line in after.strip("\n").split("\n"))
    assert all(line.startswith("--") or line == "BEGIN;" for line in text[:text.index("BEGIN;") + 6].split("\n"))


def test_an_extra_table_dropped_is_checked_empty_by_the_file_itself():
    found = plan_repair(snap(), snap({"public.t": table(), "public.later": table()}), rows={"public.later": 0})
    assert found.statements[0].startswith("DO $pgc$") and "SELECT FROM public.later" in found.statements[0]
    assert "RAISE EXCEPTION" in found.statements[0]


def test_tolerated_extras_are_not_dropped():
    wanted = snap()
    columns = {"id": {"type": "integer", "default": None, "not_null": True}, "note": {"type": "text"}}
    drifted = snap({"public.t": table(columns, {"x": {"type": "check", "definition": "CHECK (true)"}}),
                    "public.jobs_queue": table()},
                   {"public.app_idx": {"definition": "CREATE INDEX app_idx ON public.t (id)"}})
    found = plan_repair(wanted, without_extras(wanted, drifted), rows={"public.jobs_queue": 0})
    assert found.statements == () and found.unrepairable == ()


def test_comments_and_the_terminal_diff_escape_control_characters():
    from tasks.schema.catalog import diff
    found = plan_repair(snap(), snap({"public.t": table(), "public.x\nDROP TABLE t; --": table()}))
    assert "\nDROP TABLE t; --" not in found.sql("h")
    lines = diff(snap(), snap({"public.t": table(), "public.x\nDROP TABLE t; --": table()}))
    assert lines and all("\n" not in line for line in lines)
    assert qualified("public.x\ny") == 'public."x\ny"'


def test_a_table_renamed_by_hand_is_named_as_such():
    found = plan_repair(snap({"public.t": table(), "public.rooms": table()}),
                        snap({"public.t": table(), "public.rooms_old": table()}), rows={"public.rooms_old": 0})
    assert found.statements == ()
    assert any("table public.rooms is missing and table public.rooms_old is extra with the same columns" in line
               and "looks renamed" in line for line in found.unrepairable)
