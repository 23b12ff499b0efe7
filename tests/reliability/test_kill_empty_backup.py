"""
Kill test for issue 21: the deploy (real pyinfra CLI, sandbox clusters) SIGKILLed while it writes the
manifest that is the backup of an empty target, half written or written but not yet named. Nothing is
left that the rerun takes for a verified backup: it records the target again, and the half-written
file is gone. The kill is placed by a ``sitecustomize`` on the deploy's PYTHONPATH that wraps
``os.replace`` (the last step of every manifest write): the process kills itself right there.
"""

import signal

import pytest

from tasks.backups import store

pytestmark = pytest.mark.cluster  # needs the sandbox's PostgreSQL clusters

HOOK = '''
import os, signal
_replace = os.replace
def replace(src, dst, *args, **kwargs):
    if str(dst).endswith(".json") and "{folder}" in str(dst):
        if {half}:
            os.truncate(src, os.path.getsize(src) // 2)
        os.kill(os.getpid(), signal.SIGKILL)
    return _replace(src, dst, *args, **kwargs)
os.replace = replace
'''


@pytest.mark.parametrize("half", [True, False], ids=["half written", "written, not yet named"])
def test_a_run_killed_while_it_records_an_empty_target_leaves_no_backup_and_the_rerun_records_it(project, source_db,
                                                                                                 tmp_path, half):
    folder = project.tmp / "backups" / "target"
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOOK.format(folder=f"{folder}/", half=half))

    killed = project.deploy(PYTHONPATH=str(hook))
    assert killed.code == -signal.SIGKILL, killed.output[-3000:]
    assert list(folder.glob(".*.json.*.tmp")), "the kill did not land in the manifest's write"
    assert not list(folder.glob("*.json")) and not list(folder.glob("*.dump"))
    assert store.scan(folder).verified == []
    assert project.applied_versions() == []  # killed before the change it guards

    rerun = project.deploy()
    assert rerun.code == 0, rerun.output[-3000:]
    (record,) = store.scan(folder).verified
    assert store.is_empty_backup(record.manifest)
    assert not list(folder.glob(".*.tmp")), "the half-written manifest was left"
    assert project.applied_versions() == [1, 2, 3, 4]
