"""
No write through a link the tool did not make (issue 29 class 5), run as a user runs the deploy: a
link planted at ``BACKUP_DIR/source/.lock`` or ``BACKUP_DIR/target/.lock``, or at ``REPORT_DIR/history``,
pointing at the user's own files. The oracle is those files: content, mode and presence unchanged.
Real pyinfra CLI, real sandbox clusters.
"""

from __future__ import annotations

import os
import shutil
import stat

import pytest

from tasks.core import reports
from tests.support import SEEDS

pytestmark = pytest.mark.cluster


def precious(folder):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "precious.txt"
    path.write_text("the user's own\n")
    path.chmod(0o644)
    return path


@pytest.mark.parametrize("which", ["source", "target"])
def test_a_planted_lock_link_is_refused_in_one_line_and_its_target_kept(project, tmp_path, which):
    victim = precious(tmp_path / "outside")
    if which == "target":
        assert project.deploy(REPORT_DIR=str(tmp_path / "reports")).code == 0
        project.write_migration("005_more.sql", "CREATE TABLE more (id int);\n")  # a target backup is due
    lock = tmp_path / "backups" / which / ".lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.unlink(missing_ok=True)
    lock.symlink_to(victim)
    result = project.deploy(REPORT_DIR=str(tmp_path / "reports"))
    assert result.code != 0
    assert f"{lock} is a symbolic link" in result.output, result.output[-2500:]
    assert victim.read_text() == "the user's own\n" and stat.S_IMODE(victim.stat().st_mode) == 0o644
    assert "Traceback" not in result.output


def test_a_planted_history_link_gets_nothing_pruned_or_chmodded_outside(project, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    old = [outside / reports.history_name("run", when=1000.0 + i) for i in range(3)]
    for path in old:
        path.write_text("{}")
        path.chmod(0o644)
    report_dir = tmp_path / "reports"
    report_dir.mkdir()
    (report_dir / reports.HISTORY).symlink_to(outside)
    result = project.deploy(REPORT_DIR=str(report_dir), REPORT_KEEP="1")
    assert f"{report_dir / reports.HISTORY} is a symbolic link" in result.output, result.output[-2500:]
    assert sorted(outside.iterdir()) == sorted(old)
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o644 for path in old)


@pytest.mark.parametrize("which", ["source", "target"])
def test_a_hard_linked_lock_is_refused_and_the_file_outside_kept(project, tmp_path, which):
    """Tester P3: a hard link at BACKUP_DIR/*/.lock got the pid written into the file outside, and it chmod 0600."""
    victim = precious(tmp_path / "outside")
    if which == "target":
        assert project.deploy(REPORT_DIR=str(tmp_path / "reports")).code == 0
        project.write_migration("005_more.sql", "CREATE TABLE more (id int);\n")
    lock = tmp_path / "backups" / which / ".lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.unlink(missing_ok=True)
    os.link(victim, lock)
    result = project.deploy(REPORT_DIR=str(tmp_path / "reports"))
    assert result.code != 0
    assert f"{lock} has 1 other hard link(s)" in result.output, result.output[-2500:]
    assert victim.read_text() == "the user's own\n" and stat.S_IMODE(victim.stat().st_mode) == 0o644


def test_hard_linked_report_files_are_not_chmodded(project, tmp_path):
    """Tester P4: a hard link in REPORT_DIR (a history file) got the file outside chmod-ed 0600."""
    victim = precious(tmp_path / "outside")
    report_dir = tmp_path / "reports"
    assert project.deploy(REPORT_DIR=str(report_dir)).code == 0
    linked = report_dir / reports.HISTORY / reports.history_name("run", when=1000.0)
    os.link(victim, linked)
    result = project.deploy(REPORT_DIR=str(report_dir))
    assert f"{linked} has 1 other hard link(s)" in result.output, result.output[-2500:]
    assert victim.read_text() == "the user's own\n" and stat.S_IMODE(victim.stat().st_mode) == 0o644


def own_seeds(project, tmp_path):
    project.seeds = tmp_path / "seed"
    shutil.copytree(SEEDS, project.seeds)
    return project.seeds


FIFOS = {
    "migration": lambda p, tmp: p.migrations / "009_fifo.sql",
    "seed": lambda p, tmp: own_seeds(p, tmp) / "rooms.csv",
    "pg_dump versions cache": lambda p, tmp: p.state / "cache" / "pg_dump-versions.json",
    "target lock": lambda p, tmp: tmp / "backups" / "target" / ".lock",
}


@pytest.mark.parametrize("where", FIFOS.values(), ids=FIFOS.keys())
def test_a_fifo_where_a_file_is_expected_never_hangs_the_run(project, tmp_path, where):
    """Tester P5: a FIFO in the tool's folders or the migrations/seed folders hung the run for ever."""
    fifo = where(project, tmp_path)
    if "backups" in fifo.parts:
        assert project.deploy().code == 0
        project.write_migration("005_more.sql", "CREATE TABLE more (id int);\n")
    fifo.parent.mkdir(parents=True, exist_ok=True)
    fifo.unlink(missing_ok=True)
    os.mkfifo(fifo)
    result = project.deploy(timeout=150)
    assert "Traceback" not in result.output
    if fifo.name != "pg_dump-versions.json":  # a cache is replaced instead
        assert result.code != 0
        assert "is a FIFO (named pipe), not a regular file" in result.output, result.output[-2500:]
