"""
The report folder: latest-<kind>.json plus the newest REPORT_KEEP history files of each kind, 0600
files in a 0700 folder whatever the umask, existing report files tightened, nothing else touched.
"""

from __future__ import annotations

import os
import stat

import pytest

from tasks.core import reports
from tasks.core.settings import SettingsError, load_settings


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_history_is_bounded_per_kind_and_latest_is_the_newest(tmp_path):
    folder = tmp_path / "reports"
    (folder / "history").mkdir(parents=True)
    for day in range(1, 6):  # five older runs
        (folder / "history" / reports.history_name("run", 1_767_225_600 + day * 86400)).write_text("{}")
    health = folder / "history" / reports.history_name("health", 1_767_225_600)
    health.write_text("{}")
    older = reports.history(folder, "run")
    path, _ = reports.write_report(folder, "run", '{"n": 6}', keep=3)
    runs = reports.history(folder, "run")
    assert runs == [*older[-2:], path]
    assert (folder / "latest-run.json").read_text() == '{"n": 6}'
    assert reports.history(folder, "health") == [health]  # other kinds alone


def test_reports_are_private_whatever_the_umask_and_old_ones_are_tightened(tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir(mode=0o755)
    old = folder / "latest-validation.json"  # an older version's report folder: only reports in it
    old.write_text("{}")
    os.chmod(old, 0o644)
    os.chmod(folder, 0o755)
    previous = os.umask(0o022)
    try:
        path, tightened = reports.write_report(folder, "health", "{}")
    finally:
        os.umask(previous)
    assert tightened == 2  # the folder and the old report
    assert _mode(folder) == 0o700 and _mode(folder / "history") == 0o700
    assert {_mode(p) for p in (path, folder / "latest-health.json", old)} == {0o600}
    assert reports.write_report(folder, "health", "{}")[1] == 0  # said once


def test_a_folder_holding_other_files_keeps_its_mode_and_its_files(tmp_path):
    """REPORT_DIR=. (the checkout): its mode stays, files named like reports that the tool did
    not write are neither chmod'ed nor pruned."""
    folder = tmp_path / "checkout"
    folder.mkdir()
    os.chmod(folder, 0o755)
    foreign = [folder / "notes.txt", folder / "run-20190101T000000Z.json", folder / "health-20190101T000000Z.json"]
    for path in foreign:
        path.write_text("mine")
        os.chmod(path, 0o644)
    for _ in range(3):
        path, _ = reports.write_report(folder, "run", "{}", keep=1)
    assert _mode(folder) == 0o755
    assert all(p.read_text() == "mine" and _mode(p) == 0o644 for p in foreign)
    assert reports.history(folder, "run") == [path] and _mode(path) == 0o600


def test_a_shared_world_writable_folder_is_refused(tmp_path):
    folder = tmp_path / "tmp"
    folder.mkdir()
    os.chmod(folder, 0o1777)
    (folder / "run-20190101T000000Z.json").write_text("someone's")
    with pytest.raises(PermissionError, match="folder of its own"):
        reports.write_report(folder, "run", "{}", keep=1)
    assert _mode(folder) == 0o1777 and (folder / "run-20190101T000000Z.json").exists()
    target = {"TARGET_DATABASE_URL": "postgres://app:x@db.example.com:5432/app", "REPORT_DIR": str(folder)}
    (tmp_path / "files" / "migrations").mkdir(parents=True)
    with pytest.raises(SettingsError, match="^REPORT_DIR: .*folder of its own"):
        load_settings(environ=target, cwd=tmp_path)


def test_history_names_are_unique_in_the_same_second(tmp_path):
    """Concurrent runs (same second, even the same microsecond) never overwrite each other's entry."""
    folder = tmp_path / "reports"
    names = {reports.history_name("run", 1_767_225_600.5) for _ in range(50)}
    assert len(names) == 50
    paths = {reports.write_report(folder, "run", "{}", keep=100)[0] for _ in range(30)}
    assert len(paths) == 30 and len(reports.history(folder, "run")) == 30


def test_a_new_folder_is_created_private(tmp_path):
    folder = tmp_path / "a" / "reports"
    reports.write_report(folder, "run", "{}")
    assert _mode(folder) == 0o700


def test_report_keep_is_a_bounded_setting_and_blanks_are_refused(tmp_path):
    (tmp_path / "files" / "migrations").mkdir(parents=True)
    target = {"TARGET_DATABASE_URL": "postgres://app:x@db.example.com:5432/app"}
    assert load_settings(environ=target, cwd=tmp_path).report_keep == reports.DEFAULT_KEEP
    assert load_settings(environ={**target, "REPORT_KEEP": "3"}, cwd=tmp_path).report_keep == 3
    assert load_settings(environ={**target, "REPORT_KEEP": "10000"}, cwd=tmp_path).report_keep == 10000
    for bad in ("0", "many", " 3", "", "10001", "99999999999999999999"):
        with pytest.raises(SettingsError) as raised:
            load_settings(environ={**target, "REPORT_KEEP": bad}, cwd=tmp_path)
        assert str(raised.value).startswith("REPORT_KEEP:") and "REPORT_KEEP=20" in str(raised.value)


def _write_one(folder):
    return str(reports.write_report(folder, "run", "{}", keep=100)[0])


def test_concurrent_runs_each_keep_their_entry(tmp_path):
    """Runs in separate processes at the same moment: as many history entries as runs."""
    import multiprocessing

    folder = tmp_path / "reports"
    reports.write_report(folder, "run", "{}", keep=100)
    with multiprocessing.get_context("fork").Pool(4) as pool:
        paths = pool.map(_write_one, [folder] * 8)
    assert len(set(paths)) == 8 and len(reports.history(folder, "run")) == 9
