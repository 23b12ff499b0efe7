"""
Only pgconverge's own files under BACKUP_DIR and STATE_DIR are made private, and nothing at all
changes under --dry (it says what would). Real files in a temporary folder; no database needed.
"""

import os
import stat
from types import SimpleNamespace

from tasks.backups import store
from tasks.run import make_private


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def layout(tmp_path):
    old = os.umask(0o022)
    try:
        backups, state = tmp_path / "backups", tmp_path / "state"
        (backups / "source").mkdir(parents=True)
        (state / "expected").mkdir(parents=True)
        script = backups / "rotate.sh"
        script.write_text("#!/bin/sh\n")
        script.chmod(0o755)
        notes = state / "notes.txt"
        notes.write_text("mine")
        users_dump = backups / "source" / "mine-20260101T000000000000Z.dump"  # no manifest: the user's
        users_dump.write_bytes(b"x")
        dump = backups / "source" / "app-20260102T000000000000Z.dump"
        dump.write_bytes(b"dump")
        store.write_manifest(dump, {"verified": True, "sha256": store.sha256_file(dump), "database": "app"})
        os.chmod(store.manifest_path(dump), 0o644)
        cached = state / "expected" / "abc.json"
        cached.write_text("{}")
        check = state / "heroku-app-app-check.json"
        check.write_text("{}")
        os.chmod(backups / "source", 0o755)
    finally:
        os.umask(old)
    return SimpleNamespace(backup_dir=backups, state_dir=state), script, notes, users_dump, dump, cached, check


def test_only_the_tools_own_files_are_tightened_and_a_users_script_keeps_its_exec_bit(tmp_path, capsys):
    settings, script, notes, users_dump, dump, cached, check = layout(tmp_path)
    old = os.umask(0o022)
    try:
        make_private(settings, dry=False)
    finally:
        os.umask(old)
    assert mode(script) == 0o755 and mode(notes) == 0o644 and mode(users_dump) == 0o644
    assert mode(dump) == mode(store.manifest_path(dump)) == mode(cached) == mode(check) == 0o600
    assert mode(settings.backup_dir / "source") == mode(settings.state_dir / "expected") == 0o700
    assert "made 6 of pgconverge's own" in capsys.readouterr().err
    make_private(settings, dry=False)  # twice: nothing left to do, nothing said
    assert capsys.readouterr().err == ""


def test_the_dry_run_changes_no_mode_and_says_what_it_would_tighten(tmp_path, capsys):
    settings, _script, _notes, _users_dump, dump, *_ = layout(tmp_path)
    before = {p: mode(p) for p in tmp_path.rglob("*")}
    old = os.umask(0o022)
    try:
        make_private(settings, dry=True)
    finally:
        os.umask(old)
    assert {p: mode(p) for p in tmp_path.rglob("*")} == before
    err = capsys.readouterr().err
    assert "would make 6" in err and dump.name in err and "rotate.sh" not in err
