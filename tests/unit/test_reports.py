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
    folder.mkdir()
    for day in range(1, 6):  # five older runs, as left by earlier versions
        (folder / f"run-2026010{day}T000000Z.json").write_text("{}")
    (folder / "health-20260101T000000Z.json").write_text("{}")
    path, _ = reports.write_report(folder, "run", '{"n": 6}', keep=3)
    runs = reports.history(folder, "run")
    assert [p.name for p in runs] == ["run-20260104T000000Z.json", "run-20260105T000000Z.json", path.name]
    assert (folder / "latest-run.json").read_text() == '{"n": 6}'
    assert reports.history(folder, "health") == [folder / "health-20260101T000000Z.json"]  # other kinds alone


def test_reports_are_private_whatever_the_umask_and_old_ones_are_tightened(tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir(mode=0o755)
    old = folder / "validation-20260101T000000Z.json"
    old.write_text("{}")
    os.chmod(old, 0o644)
    os.chmod(folder, 0o755)
    foreign = folder / "notes.txt"  # not a report: left as it is
    foreign.write_text("mine")
    os.chmod(foreign, 0o644)
    previous = os.umask(0o022)
    try:
        path, tightened = reports.write_report(folder, "health", "{}")
    finally:
        os.umask(previous)
    assert tightened == 2  # the folder and the old report
    assert _mode(folder) == 0o700
    assert {_mode(p) for p in (path, folder / "latest-health.json", old)} == {0o600}
    assert _mode(foreign) == 0o644
    assert reports.write_report(folder, "health", "{}")[1] == 0  # said once


def test_a_new_folder_is_created_private(tmp_path):
    folder = tmp_path / "a" / "reports"
    reports.write_report(folder, "run", "{}")
    assert _mode(folder) == 0o700


def test_report_keep_is_a_setting_of_at_least_one(tmp_path):
    (tmp_path / "files" / "migrations").mkdir(parents=True)
    target = {"TARGET_DATABASE_URL": "postgres://app:x@db.example.com:5432/app"}
    assert load_settings(environ=target, cwd=tmp_path).report_keep == reports.DEFAULT_KEEP
    assert load_settings(environ={**target, "REPORT_KEEP": "3"}, cwd=tmp_path).report_keep == 3
    for bad in ("0", "many"):
        with pytest.raises(SettingsError) as raised:
            load_settings(environ={**target, "REPORT_KEEP": bad}, cwd=tmp_path)
        assert str(raised.value).startswith("REPORT_KEEP:") and "REPORT_KEEP=20" in str(raised.value)
