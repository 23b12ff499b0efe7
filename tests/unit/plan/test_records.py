"""The plan record of a run (pure: records in a temporary folder)."""

from __future__ import annotations

from pathlib import Path

from tasks.migrations.files import Migration
from tasks.plan import records
from tasks.plans import record

BEFORE: dict = {"tables": {}}
AFTER = {"tables": {"public.t": {"columns": {"id": {"type": "integer", "position": 1}}}}}


def migration(version: int) -> Migration:
    name = f"{version:03d}_m.sql"
    return Migration(version, "m", name, Path(name), f"{version}" * 8, "SELECT 1;", False)


def test_a_later_run_that_verifies_the_schema_writes_a_verified_record(tmp_path):
    """Drift found after the migrations (record unverified), repaired by hand: the next run applies
    nothing, verifies, and writes a verified record of the same change so promotion can go on."""
    files = [migration(1), migration(2)]
    records.before_changes["staging"] = (BEFORE, [m.filename for m in files])
    first = records.record_run("staging", str(tmp_path), files, {"tables": {"drifted": {}}}, False, True)
    assert first and not record.read_records(tmp_path, "staging")[0]["verified"]
    again = records.record_run("staging", str(tmp_path), files, AFTER, True, False)
    assert again
    newest = record.read_records(tmp_path, "staging")[0]
    assert newest["verified"] and newest["catalog_before"] == record.fingerprint(BEFORE)
    assert newest["catalog_after"] == record.fingerprint(AFTER) and newest["verifies"] == Path(first).name
    assert records.record_run("staging", str(tmp_path), files, AFTER, True, False) is None  # once
