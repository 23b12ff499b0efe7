"""The schema picture's DOT text (pure)."""

from tasks.schema.picture import to_dot

SNAPSHOT = {
    "tables": {
        "public.users": {
            "columns": {"id": {"type": "bigint"}},
            "constraints": {"users_pkey": {"definition": "PRIMARY KEY (id)"}},
        },
        "public.rooms": {
            "columns": {"id": {"type": "bigint"}, "created_by": {"type": "bigint"}},
            "constraints": {
                "rooms_pkey": {"definition": "PRIMARY KEY (id)"},
                "rooms_created_by_fkey": {
                    "definition": "FOREIGN KEY (created_by) REFERENCES users(id) ON DELETE SET NULL"
                },
            },
        },
    }
}


def test_tables_with_key_columns_and_foreign_keys_as_edges():
    dot = to_dot(SNAPSHOT)
    assert '"public.rooms" [label="rooms|id : bigint\\lcreated_by : bigint\\l"];' in dot
    assert '"public.rooms" -> "public.users" [label="created_by", fontsize=8];' in dot
    assert dot.count("->") == 1
