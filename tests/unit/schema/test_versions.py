"""The same migrations read alike on PostgreSQL 15 and 17 (tasks/schema/versions.py, pure).
The definitions were printed by the sandbox's 15 source and 17 target for the same CREATE VIEW."""

from tasks.schema.catalog import diff
from tasks.schema.versions import view_definition

PG15 = " SELECT events.at,\n    sum(events.total) AS total\n   FROM events\n  GROUP BY events.at;"
PG17 = " SELECT at,\n    sum(total) AS total\n   FROM events\n  GROUP BY at;"


def snapshot(definition: str, identity: str | None) -> dict:
    return {"views": {"public.event_totals": {"kind": "materialized view", "definition": definition}},
            "tables": {"public.events_2026": {"partition_bound": "FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
                                              "columns": {"id": {"type": "bigint", "identity": identity}}}}}


def test_a_view_and_a_partitions_identity_as_15_and_17_print_them_are_no_difference():
    assert diff(snapshot(PG15, None), snapshot(PG17, "a")) == []


def test_a_real_difference_in_a_view_is_still_reported():
    found = diff(snapshot(PG15, None), snapshot(PG17.replace("sum(total)", "max(total)"), "a"))
    assert len(found) == 1 and found[0].startswith("~ view event_totals")


def test_qualifiers_stay_where_a_query_has_several_relations():
    two = "SELECT a.x FROM a WHERE a.y IN (SELECT b.y FROM b, c WHERE b.z = c.z)"
    assert view_definition(two) == "SELECT x FROM a WHERE y IN (SELECT b.y FROM b, c WHERE b.z = c.z)"
