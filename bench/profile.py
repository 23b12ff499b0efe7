"""
Where the time goes, for a goal that is missed: one more run of the slow side, summed per step.
A step is a function; its time is its cumulative wall time (everything it called, subprocesses
and the server waited for included). Two ways to measure: cProfile (every function, but it slows
Python-heavy code), or :func:`timers` around a few named functions (for code that makes millions
of calls, where cProfile would distort the picture).
"""

from __future__ import annotations

import contextlib
import cProfile
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.timing import HarnessError

ROOT = Path(__file__).resolve().parents[1]


def profile_call(function: Callable[[], object]) -> tuple[pstats.Stats, float]:
    """Run ``function`` under cProfile; (its stats, its wall time in seconds)."""
    profiler = cProfile.Profile(time.perf_counter)
    started = time.perf_counter()
    profiler.runcall(function)
    total = time.perf_counter() - started
    return pstats.Stats(profiler), total


def profile_command(script: str, args: list[str], env: dict) -> tuple[pstats.Stats, float]:
    """Run the Python ``script`` (e.g. the pyinfra entry point) under ``python -m cProfile``."""
    with tempfile.TemporaryDirectory(prefix="pgconverge-profile-") as tmp:
        out = Path(tmp) / "profile.out"
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(out), script, *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=False)
        total = time.perf_counter() - started
        if done.returncode != 0:
            raise HarnessError(f"profiled run of {Path(script).name} failed:\n{done.stderr[-1500:]}")
        return pstats.Stats(str(out)), total


def find(stats: pstats.Stats, file_suffix: str, name: str | None = None) -> list[tuple[str, int, float]]:
    """[(function name, calls, cumulative seconds)] of the functions of ``file_suffix`` (and ``name``)."""
    found = []
    for (filename, _line, function), (_cc, calls, _tt, cumulative, _callers) in stats.stats.items():
        if filename.endswith(file_suffix) and (name is None or function == name):
            found.append((function, calls, cumulative))
    return found


@contextlib.contextmanager
def timers(targets: dict[str, tuple[object, str]]) -> Iterator[dict[str, list]]:
    """Within the block, count the calls and sum the wall time of each ``(owner, attribute)``
    function (a module's function or a class's method); yields ``{label: [calls, seconds]}``."""
    found = {label: [0, 0.0] for label in targets}
    originals = []
    for label, (owner, attribute) in targets.items():
        original = getattr(owner, attribute)

        def wrapper(*args, _original=original, _tally=found[label], **kwargs):
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                _tally[0] += 1
                _tally[1] += time.perf_counter() - started

        originals.append((owner, attribute, original))
        setattr(owner, attribute, wrapper)
    try:
        yield found
    finally:
        for owner, attribute, original in reversed(originals):
            setattr(owner, attribute, original)


class Breakdown:
    """A table of steps with their seconds, share of the total and number of calls."""

    def __init__(self, stats: pstats.Stats | None, total: float, what: str, reference: float | None = None,
                 reference_label: str = "",
                 method: str = "under cProfile (which slows Python-heavy steps more than waits)"):
        self.stats, self.total, self.what, self.method = stats, total, what, method
        self.reference, self.reference_label = reference, reference_label
        self.rows: list[tuple[str, float, int]] = []
        self.nested: set[int] = set()

    def add(self, label: str, file_suffix: str, name: str | None = None, nested: bool | str = False,
            outermost: bool = False) -> float:
        """Add the step; ``nested`` steps are part of other rows (shown, not summed; a string is
        shown before the label instead of "of which"). With
        ``outermost``, of several functions of that name in the file the one with the most time
        (e.g. ``Copy.write`` rather than the writer's ``write`` it calls)."""
        found = find(self.stats, file_suffix, name)
        if outermost and found:
            found = [max(found, key=lambda f: f[2])]
        seconds = sum(c for _, _, c in found)
        calls = sum(n for _, n, _ in found)
        self.add_seconds(label, seconds, calls, nested)
        return seconds

    def add_seconds(self, label: str, seconds: float, calls: int = 0, nested: bool | str = False) -> None:
        if nested:
            self.nested.add(len(self.rows))
            label = f"&nbsp;&nbsp;{nested if isinstance(nested, str) else 'of which'} {label}"
        self.rows.append((label, seconds, calls))

    def markdown(self) -> str:
        lines = [f"{self.what}: {self.total:.2f} s {self.method}"
                 + (f" ({self.reference_label}: {self.reference:.2f} s)" if self.reference is not None else "") + ".",
                 "", "| step | seconds | share | calls |", "|---|---|---|---|"]
        summed = 0.0
        for index, (label, seconds, calls) in enumerate(self.rows):
            if index not in self.nested:
                summed += seconds
            lines.append(f"| {label} | {seconds:.2f} | {seconds / self.total:.0%} | {calls or ''} |")
        rest = self.total - summed
        lines.append(f"| everything else | {rest:.2f} | {rest / self.total:.0%} | |")
        return "\n".join(lines)


def add_operations(breakdown: Breakdown, package: str = "tasks/operations/") -> None:
    """One row per function of ``package`` that pyinfra itself calls: an operation's body (its
    checks and facts, run when planning and again when executing) or the step it yields (run by
    ``python_step``). Helpers that those call are inside their rows. ``common.py`` is pyinfra's
    side: its ``operation`` decorator calls the bodies (through ``guarded``), ``python_step``'s
    ``run`` the steps."""
    rows = []
    for (filename, _line, function), (_cc, calls, _tt, cumulative, callers) in breakdown.stats.stats.items():
        if package not in filename or filename.endswith("common.py") or function == "<module>":
            continue
        from_operations = [c for c in callers if package in c[0] and not c[0].endswith("common.py")]
        if from_operations or cumulative < 0.005:
            continue
        executed = any(c[0].endswith("common.py") and c[2] == "run" for c in callers)
        module = filename.rsplit("/", 1)[-1]
        kind = "step it yields" if executed else "state: checks and facts"
        rows.append((cumulative, f"`{module}` `{function}` ({kind})", calls))
    for seconds, label, calls in sorted(rows, reverse=True):
        breakdown.add_seconds(label, seconds, calls)


# Where a run's facts are read: pyinfra's ``get_fact`` (one psql or shell process per fact), and,
# once the facts come from one session per database (issue 21), that session's queries. Whichever
# the profiled code has is shown; both when it has both.
FACT_READERS = (
    ("facts (pyinfra `get_fact`: one psql or shell process each)", "pyinfra/api/facts.py", "get_fact"),
    ("facts' queries (`Session.rows`: one session per database)", "tasks/core/sessions.py", "rows"),
)


def add_facts(breakdown: Breakdown, nested: str = "in the rows above:") -> None:
    """The facts rows of ``breakdown`` (see FACT_READERS), as rows nested in the operations'."""
    found = [(label, suffix, name) for label, suffix, name in FACT_READERS if find(breakdown.stats, suffix, name)]
    for label, suffix, name in found or FACT_READERS[:1]:
        breakdown.add(label, suffix, name, nested=nested)
