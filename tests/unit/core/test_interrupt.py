"""The pure parts of an interrupted run: which state it was in, and its one line."""

import os
import subprocess

from tasks.core.interrupt import descendants, interrupted_state, message


def test_the_running_op_names_the_state_else_the_first_planned_state_without_a_row():
    planned = ["A", "B", "C", "D"]
    assert interrupted_state({"A": 1}, {"B": "left out"}, planned, "D") == "D"
    assert interrupted_state({"A": 1}, {"B": "left out"}, planned, None) == "C"
    assert interrupted_state({"A": 1, "C": 1}, {"B": "x"}, ["A", "B", "C"], None) is None


def test_the_line_names_the_signal_the_state_and_the_way_forward():
    assert message("SIGTERM", "Data copied") == (
        "interrupted by SIGTERM while Data copied: what was done is kept, what it was doing was rolled back; run again")


def test_descendants_include_grandchildren():
    shell = subprocess.Popen(["sh", "-c", "sleep 30 & wait"])
    try:
        import time

        deadline = time.monotonic() + 5
        while len(descendants(os.getpid())) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        found = descendants(os.getpid())
        assert shell.pid in found and len(found) >= 2
    finally:
        for pid in reversed(descendants(shell.pid) + [shell.pid]):
            os.kill(pid, 15)
        shell.wait()
