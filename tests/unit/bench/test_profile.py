"""
bench/profile.py's "Where the time goes" rows, from real cProfile stats of small stand-in modules
laid out like the project (``tasks/operations/common.py`` wrapping each state's body, as its
``operation`` decorator does; ``tasks/core/sessions.py``'s ``Session.rows``; pyinfra's ``get_fact``).
"""

import importlib.util
import time
from pathlib import Path

from bench.profile import Breakdown, add_facts, add_operations, profile_call

COMMON = '''
def operation(body):
    def guarded(*args):
        yield from body(*args)
    return guarded

def run(step):
    return step()
'''
STATES = '''
import time
from tasks.operations import common

def take():
    time.sleep(0.02)

@common.operation
def applied(read):
    read()
    time.sleep(0.02)
    yield take
'''
SESSIONS = '''
import time

class Session:
    def rows(self):
        time.sleep(0.01)
'''
FACTS = '''
import time

def get_fact():
    time.sleep(0.01)
'''


def _load(root: Path, relative: str, text: str, name: str):
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _breakdown(tmp_path: Path, *, session: bool, get_fact: bool) -> str:
    import sys

    import tasks.operations as package  # the real common may be loaded by other tests: stand in for it here

    common = _load(tmp_path, "tasks/operations/common.py", COMMON, "tasks.operations.common")
    saved_module, saved_attribute = sys.modules.get("tasks.operations.common"), vars(package).get("common")
    sys.modules["tasks.operations.common"], package.common = common, common
    try:
        states = _load(tmp_path, "tasks/operations/states.py", STATES, "bench_test_states")
    finally:
        sys.modules.pop("tasks.operations.common")
        vars(package).pop("common")
        if saved_module is not None:
            sys.modules["tasks.operations.common"] = saved_module
        if saved_attribute is not None:
            package.common = saved_attribute
    readers = []
    if session:
        readers.append(_load(tmp_path, "tasks/core/sessions.py", SESSIONS, "bench_test_sessions").Session().rows)
    if get_fact:
        readers.append(_load(tmp_path, "pyinfra/api/facts.py", FACTS, "bench_test_facts").get_fact)

    def deploy():
        for step in states.applied(lambda: [read() for read in readers]):
            common.run(step)

    started = time.perf_counter()
    stats, total = profile_call(deploy)
    assert total >= 0.04 and time.perf_counter() - started >= total
    breakdown = Breakdown(stats, total, "stand-in deploy")
    add_operations(breakdown, package="tasks/operations/")
    add_facts(breakdown)
    return breakdown.markdown()


def test_a_state_behind_the_operation_decorator_has_its_row_and_so_has_the_step_it_yields(tmp_path):
    table = _breakdown(tmp_path, session=False, get_fact=True)
    assert "`states.py` `applied` (state: checks and facts)" in table
    assert "`states.py` `take` (step it yields)" in table


def test_the_facts_row_times_whichever_reader_the_code_has(tmp_path):
    before = _breakdown(tmp_path / "before", session=False, get_fact=True)
    assert "facts (pyinfra `get_fact`" in before and "Session.rows" not in before
    after = _breakdown(tmp_path / "after", session=True, get_fact=False)
    assert "`Session.rows`" in after and "get_fact" not in after
    facts_row = next(line for line in after.splitlines() if "Session.rows" in line)
    assert float(facts_row.split("|")[2]) >= 0.01 and facts_row.split("|")[4].strip() == "1"
