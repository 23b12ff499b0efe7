"""The drift repair (pure): what is repaired, what is listed and left out."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks.schema.repair import plan_repair, widening


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
    assert found.statements == ("DROP TABLE public.empty;",)
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
