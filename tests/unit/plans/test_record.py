"""The plan record: fingerprints, contents, the file (pure apart from a temporary folder)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks.migrations.files import Migration
from tasks.plans.record import build_record, fingerprint, read_records, write_record

SNAP = {"tables": {"public.users": {"columns": {"id": {"type": "bigint"}}},
                   "public.schema_migrations": {"columns": {"version": {"type": "bigint"}}}},
        "indexes": {"public.users_pkey": {"definition": "x"}, "public.schema_migrations_pkey": {"definition": "y"}}}


def migration(version: int, checksum: str = "c") -> Migration:
    name = f"{version:03d}_m.sql"
    return Migration(version, "m", name, Path(name), checksum * 64, "SELECT 1;", False)


keys = st.text("abcdef", min_size=1, max_size=4)
catalogs = st.dictionaries(keys, st.dictionaries(keys, st.integers() | st.text(max_size=3), max_size=3), max_size=4)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(catalogs)
def test_the_fingerprint_ignores_key_order(snapshot):
    reordered = {k: dict(reversed(list(v.items()))) for k, v in reversed(list(snapshot.items()))}
    assert fingerprint(snapshot) == fingerprint(reordered)


def test_the_fingerprint_ignores_the_tracking_table_and_sees_the_schema():
    without = {"tables": {"public.users": SNAP["tables"]["public.users"]},
               "indexes": {"public.users_pkey": {"definition": "x"}}}
    assert fingerprint(SNAP) == fingerprint(without)
    changed = json.loads(json.dumps(without))
    changed["tables"]["public.users"]["columns"]["id"]["type"] = "integer"
    assert fingerprint(changed) != fingerprint(without)


def test_a_record_holds_what_promotion_needs_and_is_written_0644(tmp_path):
    record = build_record("staging", [migration(1), migration(2)], ["002_m.sql"], {}, SNAP, True)
    assert [f["file"] for f in record["files"]] == ["001_m.sql", "002_m.sql"]
    assert record["findings"] == [] and record["verified"] is True and record["environment"] == "staging"
    assert record["catalog_before"] == fingerprint({}) and record["catalog_after"] == fingerprint(SNAP)
    assert record["tool_version"]
    path = write_record(tmp_path / "plans", record)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    [read] = read_records(tmp_path / "plans", "staging")
    assert read["files"] == record["files"] and read["path"] == str(path)
    assert read_records(tmp_path / "plans", "production") == []
