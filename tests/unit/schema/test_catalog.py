"""The catalog diff: one readable line per added, removed or changed object (pure)."""

from tasks.schema.catalog import diff

BASE = {
    "extensions": ["plpgsql"],
    "tables": {
        "public.users": {
            "kind": "table",
            "columns": {"email": {"type": "text", "not_null": True, "default": None}},
            "constraints": {"users_pkey": {"type": "primary key", "definition": "PRIMARY KEY (id)"}},
            "triggers": {},
        }
    },
    "indexes": {
        "public.users_pkey": {"definition": "CREATE UNIQUE INDEX users_pkey ON public.users (id)", "valid": True}
    },
}


def copy():
    import copy as c

    return c.deepcopy(BASE)


def test_equal_snapshots_have_no_diff():
    assert diff(BASE, copy()) == []


def test_added_removed_and_changed_objects():
    actual = copy()
    actual["indexes"]["public.messages_room_idx"] = {
        "definition": "CREATE INDEX messages_room_idx ON public.messages (room_id, created_at)",
        "valid": True,
    }
    actual["tables"]["public.users"]["columns"]["email"]["type"] = "citext"
    del actual["tables"]["public.users"]["constraints"]["users_pkey"]
    actual["extensions"].append("citext")
    lines = diff(BASE, actual)
    assert "+ index messages_room_idx ON public.messages (room_id, created_at)" in lines
    assert "~ column users.email: type text → citext" in lines
    assert "- primary key users.users_pkey: PRIMARY KEY (id)" in lines
    assert "+ extension citext" in lines


def test_missing_table_is_one_line():
    actual = copy()
    del actual["tables"]["public.users"]
    assert diff(BASE, actual) == ["- table users"]
