"""
No write through a link the tool did not make (issue 29 class 5): a planted link at a lock file, a
history folder, a temporary name, refused in one line or replaced, and what it points at unchanged
(content and mode). Real files in a temporary folder; no database.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tasks.backups import pruning, store
from tasks.core import private, reports
from tasks.core.errors import describe
from tasks.core.private import LinkRefused, write_private


def victim(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "precious.txt"
    target.write_text("the user's own\n")
    target.chmod(0o644)
    return target


def untouched(target: Path) -> bool:
    return target.read_text() == "the user's own\n" and stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_symlinked_backup_lock_is_refused_and_its_target_kept(tmp_path):
    target = victim(tmp_path)
    folder = tmp_path / "backups" / "target"
    folder.mkdir(parents=True)
    (folder / store.LOCK_NAME).symlink_to(target)
    with pytest.raises(LinkRefused) as caught, pruning.writing(folder):
        pass
    assert untouched(target)
    assert describe(caught.value).startswith(f"{folder / store.LOCK_NAME} is a symbolic link")


def test_a_symlinked_report_history_is_refused_nothing_outside_pruned_or_chmodded(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    old = [outside / reports.history_name("run", when=1000.0 + i) for i in range(3)]
    for path in old:
        path.write_text("{}")
        path.chmod(0o644)
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / reports.HISTORY).symlink_to(outside)
    with pytest.raises(LinkRefused, match="history is a symbolic link"):
        reports.write_report(folder, "run", "{}", keep=1)
    assert all(path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o644 for path in old)
    assert sorted(outside.iterdir()) == sorted(old)


def test_a_link_at_a_file_written_is_replaced_never_written_through(tmp_path):
    target = victim(tmp_path)
    place = tmp_path / "state" / "cache"
    place.mkdir(parents=True)
    (place / "x.json").symlink_to(target)
    (place / f".x.json.{os.getpid()}.tmp").symlink_to(target)  # planted under the temporary name too
    write_private(place / "x.json", "{}")
    assert untouched(target)
    assert not (place / "x.json").is_symlink() and (place / "x.json").read_text() == "{}"


def test_a_link_inside_the_state_folder_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "cache").symlink_to(outside)
    with pytest.raises(LinkRefused):
        write_private(tmp_path / "state" / "cache" / "x.json", "{}")
    assert list(outside.iterdir()) == []


def test_a_folder_the_settings_name_may_be_a_link(tmp_path, monkeypatch):
    """BACKUP_DIR=/mnt/big/backups as a link is the user's choice; what the tool makes inside is not."""
    real = tmp_path / "big"
    real.mkdir()
    (tmp_path / "reports").symlink_to(real)
    monkeypatch.setattr(private, "_trusted", set())
    private.trust_links_at(tmp_path / "reports")
    path, _ = reports.write_report(tmp_path / "reports", "run", "{}")
    assert (real / reports.HISTORY / path.name).read_text() == "{}"


def test_a_fifo_is_refused_never_waited_on(tmp_path):
    """Tester P5: reading a FIFO where a file is expected hung the run."""
    import os

    from tasks.core.private import NotRegular, read_regular

    fifo = tmp_path / "pg_dump-versions.json"
    os.mkfifo(fifo)
    with pytest.raises(NotRegular, match="is a FIFO"):
        read_regular(fifo)


def test_a_hard_linked_file_is_never_chmodded(tmp_path):
    """Tester P4: chmod of a file with another hard link changed the file outside."""
    import os
    import stat

    from tasks.core.private import NotRegular, chmod_own

    outside = tmp_path / "outside.txt"
    outside.write_text("mine")
    outside.chmod(0o644)
    os.link(outside, tmp_path / "run-1.json")
    with pytest.raises(NotRegular, match="other hard link"):
        chmod_own(tmp_path / "run-1.json", 0o600)
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644
