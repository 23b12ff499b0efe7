"""
The backup of a target that holds nothing (issue 21), without a database: when the history read by
the plan proves it empty (anything unread or present means a real pg_dump), and how the backup folder
treats the manifest that is the whole backup (listed as verified, counted and pruned by BACKUP_KEEP,
never removed as an orphan, never taken for a dump's manifest). Real files in a temporary folder.
"""

import json
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.backups import empty, pruning, store
from tasks.migrations.plan import AppliedRow, TargetHistory

NOTHING = TargetHistory(table_exists=False, user_tables=0, leftovers=0)
EMPTY_CATALOG = {"schemas": ["public"], "extensions": ["plpgsql"], "tables": {}, "indexes": {}, "views": {},
                 "sequences": {}, "functions": {}, "types": {}}


def record(folder, db, n):
    state = {"database": db, "server_version": "17.2", "catalog": EMPTY_CATALOG}
    path = store.empty_backup_path(folder, db, now=1767225600 + (n - 1) * 86400)  # 2026-01-0n
    store.write_json(path, {**empty.manifest(state, "postgres://u:***@h:5432/" + db, "f" * 64, 0.0),
                            "created_at": f"2026-01-0{n}T00:00:00Z"})
    return path


def dump(folder, db, n):
    path = folder / f"{db}-2026010{n}T000000000000Z.dump"
    path.write_bytes(b"dump" + bytes([n]))
    info = path.stat()
    store.write_manifest(path, {"tool": store.TOOL, "verified": True, "database": db, "sha256": store.sha256_file(path),
                                "size_bytes": info.st_size, "mtime_ns": info.st_mtime_ns,
                                "created_at": f"2026-01-0{n}T00:00:00Z", "rows": {}})
    return path


def test_only_a_history_that_proves_the_target_empty_makes_a_record():
    assert empty.holds_nothing(NOTHING)
    assert not empty.holds_nothing(replace(NOTHING, leftovers=None))  # an older reader: not proved
    assert not empty.holds_nothing(replace(NOTHING, table_exists=True))  # even an empty schema_migrations
    assert not empty.holds_nothing({"error": "connection refused"})  # the fact failed


@settings(max_examples=60, deadline=None)
@given(tables=st.integers(0, 3), objects=st.integers(0, 3), leftovers=st.integers(0, 6), tracking=st.booleans(),
       rows=st.integers(0, 2))
def test_anything_the_history_counts_means_a_real_pg_dump(tables, objects, leftovers, tracking, rows):
    applied = tuple(AppliedRow(v, f"m{v}", "0" * 64) for v in range(rows))
    history = TargetHistory(table_exists=tracking or bool(rows), user_tables=tables, rows=applied,
                            other_objects=objects, leftovers=leftovers)
    assert empty.holds_nothing(history) == (tables == objects == leftovers == 0 and not tracking and not rows)


def test_a_record_is_a_verified_backup_counted_and_pruned_like_a_dump(tmp_path):
    first = record(tmp_path, "app", 1)
    second = dump(tmp_path, "app", 2)
    third = record(tmp_path, "app", 3)
    assert [b.path for b in store.scan(tmp_path, "app").verified] == [first, second, third]
    assert store.check_file(first, json.loads(first.read_text())) is None
    done = pruning.tidy(tmp_path, "app", keep=2)
    assert done.pruned == [first] and not done.orphans and not done.set_aside
    assert not first.exists() and second.exists() and third.exists()
    assert first.name in done.describe(2)


def test_a_record_is_never_removed_as_a_manifest_without_its_dump(tmp_path):
    kept = record(tmp_path, "app", 1)
    assert pruning.remove_orphan_manifests(tmp_path, "app") == []
    assert kept.exists()


def test_a_dump_beside_a_record_is_not_taken_for_a_verified_backup(tmp_path):
    kept = record(tmp_path, "app", 1)
    stray = kept.with_suffix(".dump")
    stray.write_bytes(b"not made by pgconverge")
    found = store.scan(tmp_path, "app")
    assert [b.path for b in found.verified] == [kept] and found.foreign == [stray]


def test_a_manifest_that_only_claims_to_be_empty_is_not_a_backup(tmp_path):
    path = record(tmp_path, "app", 1)
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "tables": 1, "rows": {"public.t": 3}}))
    assert store.scan(tmp_path, "app").verified == []
    path.write_text(json.dumps({**manifest, "empty": "yes"}))
    assert store.scan(tmp_path, "app").verified == []


def test_records_of_two_databases_never_prune_each_other(tmp_path):
    mine = [record(tmp_path, "app", n) for n in (1, 2)]
    other = record(tmp_path, "other", 1)
    pruning.tidy(tmp_path, "app", keep=1)
    assert not mine[0].exists() and mine[1].exists() and other.exists()
