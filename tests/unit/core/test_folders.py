"""Folders the run writes to: unwritable ones named before anything runs (pure)."""

import os

import pytest

from tasks.core.folders import FolderError, check_writable, unwritable


def test_unwritable_folders_are_named_before_anything_runs(tmp_path):
    (tmp_path / "file").write_text("")
    assert unwritable(tmp_path / "new" / "deeper") is None and not (tmp_path / "new").exists()
    assert "is a file, not a folder" in unwritable(tmp_path / "file" / "sub")
    with pytest.raises(FolderError, match="REPORT_DIR: .* cannot be written .*point REPORT_DIR at another folder"):
        check_writable({"STATE_DIR": tmp_path, "REPORT_DIR": tmp_path / "file" / "sub"})
    if os.geteuid() != 0:
        (tmp_path / "ro").mkdir(mode=0o500)
        assert "Permission denied" in unwritable(tmp_path / "ro")
