"""
The backup folder's rules without a database: which files pruning may touch (only verified
backups of the tool's own, never the newest, never a file without a manifest), re-verification by
sha256 when a file was moved, setting aside instead of deleting, and pg_restore --list read for
any table name. Real files in a temporary folder; the dumps are stand-in bytes (no PostgreSQL is
needed to decide what may be deleted).
"""

import os
import stat
import subprocess
import sys

from tasks.backups import pruning, store

LISTING = """;
; Archive created at 2026-11-30 11:00:00 UTC
;
215; 1259 16390 TABLE public users whynot_owner
216; 1259 16391 TABLE public audit log whynot_owner
217; 1259 16392 TABLE public a.b whynot_owner
218; 1259 16393 TABLE my schema "quoted" whynot_owner
219; 1259 16394 TABLE public ünïcödé whynot_owner
220; 1259 16395 TABLE public t whynot_owner
3400; 0 16390 TABLE DATA public users whynot_owner
3401; 0 16391 TABLE DATA public audit log whynot_owner
3402; 0 0 TABLE ATTACH public t_p1 whynot_owner
"""


def test_toc_entries_are_compared_whole_for_any_table_name():
    listed = store.toc_tables(LISTING)
    wanted = [
        store.toc_entry(*t)
        for t in [
            ("public", "users", "whynot_owner"),
            ("public", "audit log", "whynot_owner"),
            ("public", "a.b", "whynot_owner"),
            ("my schema", '"quoted"', "whynot_owner"),
            ("public", "ünïcödé", "whynot_owner"),
            ("public", "t", "whynot_owner"),
        ]
    ]
    assert sorted(listed) == sorted(wanted)
    assert store.toc_entry("public", "two\nlines", "o") == "public two lines o"  # as pg_restore prints it


def backup(folder, db, n, data=b"dump", manifest=True, created=None):
    path = folder / f"{db}-2026010{n}T000000000000Z.dump"
    path.write_bytes(data + bytes([n]))
    if manifest:
        info = path.stat()
        store.write_manifest(
            path,
            {
                "verified": True,
                "database": db,
                "sha256": store.sha256_file(path),
                "size_bytes": info.st_size,
                "mtime_ns": info.st_mtime_ns,
                "created_at": created or f"2026-01-0{n}T00:00:00Z",
                "rows": {},
            },
        )
    return path


def test_pruning_keeps_exactly_keep_and_never_touches_a_file_without_manifest(tmp_path):
    own = [backup(tmp_path, "app", n) for n in range(1, 6)]
    users = backup(tmp_path, "app", 9, manifest=False)  # the user's own app-20260109T…Z.dump
    other_db = backup(tmp_path, "other", 1)
    done = pruning.tidy(tmp_path, "app", keep=2)
    assert done.pruned == own[:3]
    assert sorted(p for p in tmp_path.glob("*.dump")) == sorted(own[3:] + [users, other_db])
    assert not store.manifest_path(own[0]).exists()


def test_the_newest_verified_backup_is_never_pruned_even_with_a_protected_older_one(tmp_path):
    older, newest = backup(tmp_path, "app", 1), backup(tmp_path, "app", 2)
    assert store.to_prune(store.scan(tmp_path, "app"), keep=1, protect=older) == []
    assert newest.exists()


def test_moved_files_are_reverified_by_sha256_not_deleted(tmp_path):
    kept = [backup(tmp_path, "app", n) for n in range(1, 4)]
    for path in kept:  # what tar cf / tar xf does: whole-second mtimes
        info = path.stat()
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns // 10**9 * 10**9 - 10**9))
    found = store.scan(tmp_path, "app")
    assert [b.path for b in found.verified] == kept and len(found.reverified) == 3
    done = pruning.tidy(tmp_path, "app", keep=10)
    assert done.pruned == [] and done.refreshed == kept
    assert all(store.file_matches(p, store.read_manifest(p)) for p in kept)  # next run: no hashing


def test_a_dump_that_fails_verification_is_set_aside_and_reported(tmp_path):
    good, bad = backup(tmp_path, "app", 1), backup(tmp_path, "app", 2)
    bad.write_bytes(b"dumq\x02")  # same size, other bytes
    done = pruning.tidy(tmp_path, "app", keep=10)
    assert [p for p, *_ in done.set_aside] == [bad] and "sha256" in done.describe(10)
    assert not bad.exists() and (tmp_path / (bad.name + store.SET_ASIDE)).exists()
    assert (tmp_path / (store.manifest_path(bad).name + store.SET_ASIDE)).exists() and good.exists()


def test_pruning_waits_for_no_writer_and_deletes_nothing_while_one_writes(tmp_path):
    for n in range(1, 5):
        backup(tmp_path, "app", n)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time; from pathlib import Path; from tasks.backups import pruning\n"
                f"with pruning.writing(Path({str(tmp_path)!r})):\n    print('held', flush=True); time.sleep(30)\n"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        done = pruning.tidy(tmp_path, "app", keep=1)
        assert done.postponed and done.pruned == [] and len(list(tmp_path.glob("*.dump"))) == 4
    finally:
        holder.kill()
        holder.wait()
    assert len(pruning.tidy(tmp_path, "app", keep=1).pruned) == 3


def test_manifests_and_lock_are_private_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        (tmp_path / "deep").mkdir(mode=0o755)
        path = backup(tmp_path / "deep", "app", 1)
        pruning.tidy(tmp_path / "deep", "app", keep=1)
    finally:
        os.umask(old)
    assert stat.S_IMODE(store.manifest_path(path).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "deep" / store.LOCK_NAME).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "deep").stat().st_mode) == 0o700


def own_backup(folder, db, n, label, data=b"dump"):
    """A backup as take_backup names and describes it (identity: server and database)."""
    path = store.backup_path(folder, db, now=1767225600 + n)
    path.write_bytes(data + bytes([n]))
    info = path.stat()
    store.write_manifest(
        path,
        {
            "verified": True,
            "database": db,
            "label": label,
            "identity": store.identity(label, db),
            "sha256": store.sha256_file(path),
            "size_bytes": info.st_size,
            "mtime_ns": info.st_mtime_ns,
            "created_at": f"2026-01-0{n}T00:00:00Z",
            "rows": {},
        },
    )
    return path


def test_databases_whose_names_sanitise_alike_never_prune_each_others_backups(tmp_path):
    url = "postgresql://u:***@db:5432/x"
    space, underscore = own_backup(tmp_path, "sp ace", 1, url), own_backup(tmp_path, "sp_ace", 2, url)
    assert store.NAME.fullmatch(space.name)["db"] != store.NAME.fullmatch(underscore.name)["db"]
    assert pruning.tidy(tmp_path, "sp_ace", keep=1, ident=store.identity(url, "sp_ace")).pruned == []
    assert pruning.tidy(tmp_path, "sp ace", keep=1, ident=store.identity(url, "sp ace")).pruned == []
    assert space.exists() and underscore.exists()


def test_the_same_database_name_on_two_servers_sharing_a_folder_is_two_groups(tmp_path):
    one, two = "postgresql://u:***@db1:5432/app", "postgresql://u:***@db2:5433/app"
    first = own_backup(tmp_path, "app", 1, one)
    second = own_backup(tmp_path, "app", 2, two)
    assert pruning.tidy(tmp_path, "app", keep=1, ident=store.identity(two, "app")).pruned == []
    assert first.exists() and second.exists()
    newer = own_backup(tmp_path, "app", 3, one)
    assert pruning.tidy(tmp_path, "app", keep=1, ident=store.identity(one, "app")).pruned == [first]
    assert second.exists() and newer.exists()


def test_a_second_set_aside_of_the_same_name_never_overwrites_the_first(tmp_path):
    first = backup(tmp_path, "app", 1)
    first.write_bytes(b"dumX\x01")  # same size, other bytes
    pruning.tidy(tmp_path, "app", keep=10)
    again = backup(tmp_path, "app", 1, data=b"next")  # a new file under the same name, damaged too
    again.write_bytes(b"nexX\x01")
    done = pruning.tidy(tmp_path, "app", keep=10)
    asides = sorted(p.name for p in tmp_path.glob("*.dump.set-aside*"))
    assert asides == [first.name + ".set-aside", first.name + ".set-aside-2"]
    assert (tmp_path / asides[0]).read_bytes() == b"dumX\x01" and (tmp_path / asides[1]).read_bytes() == b"nexX\x01"
    assert done.set_aside[0][2].name == asides[1] and asides[1] in done.describe(10)


def test_a_kept_backup_corrupted_in_place_with_size_and_mtime_kept_is_set_aside_not_counted(tmp_path):
    old, middle, newest = (backup(tmp_path, "app", n) for n in (1, 2, 3))
    info = newest.stat()
    newest.write_bytes(b"dumX\x03")  # same size; mtime put back: only sha256 can tell
    os.utime(newest, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert [b.path for b in store.scan(tmp_path, "app").verified][-1] == newest  # the cheap check is fooled
    done = pruning.tidy(tmp_path, "app", keep=2)
    assert [p for p, *_ in done.set_aside] == [newest] and "sha256" in done.describe(2)
    assert done.pruned == [] and old.exists() and middle.exists()  # two good ones are kept
    assert (tmp_path / (newest.name + store.SET_ASIDE)).exists()


def test_pruning_names_the_backups_it_deletes(tmp_path):
    own = [backup(tmp_path, "app", n) for n in range(1, 4)]
    text = pruning.tidy(tmp_path, "app", keep=1).describe(1)
    assert own[0].name in text and own[1].name in text and own[2].name not in text


def test_a_manifest_whose_dump_is_gone_is_named_and_a_corrupt_one_is_reported_and_kept(tmp_path):
    gone, kept = backup(tmp_path, "app", 1), backup(tmp_path, "app", 2)
    gone.unlink()
    corrupt = store.manifest_path(kept)
    corrupt.write_text("{bad")
    done = pruning.tidy(tmp_path, "app", keep=1)
    text = done.describe(1)
    assert store.manifest_path(gone).name in text and "is gone" in text
    assert corrupt.name in text and "unreadable" in text
    assert corrupt.exists() and kept.exists()


def test_a_writer_says_it_waits_for_a_pruning_run_and_gives_up_after_the_bound_naming_it(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time; from pathlib import Path; from tasks.backups import pruning\n"
                f"with pruning.pruning(Path({str(tmp_path)!r})) as mine:\n"
                "    print('held', mine, flush=True); time.sleep(30)\n"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )
    said = []
    try:
        assert holder.stdout.readline().strip() == "held True"
        try:
            with pruning.writing(tmp_path, said.append, wait_s=0.5):
                raise AssertionError("the lock was had while another run pruned")
        except pruning.FolderLocked as exc:
            message = str(exc)
    finally:
        holder.kill()
        holder.wait()
    assert len(said) == 1 and "waiting up to" in said[0] and f"process {holder.pid}" in said[0]
    assert f"process {holder.pid}" in message and "\n" not in message
    with pruning.writing(tmp_path, said.append, wait_s=0.5):  # the holder is gone: no wait
        pass
    assert len(said) == 1


def test_backups_from_before_identities_are_still_grouped_by_their_database_name(tmp_path):
    url = "postgresql://u:***@db:5432/app"
    legacy = [backup(tmp_path, "app", n) for n in (1, 2)]  # manifests without "identity"
    newest = own_backup(tmp_path, "app", 3, url)
    assert pruning.tidy(tmp_path, "app", keep=2, ident=store.identity(url, "app")).pruned == [legacy[0]]
    assert legacy[1].exists() and newest.exists()
