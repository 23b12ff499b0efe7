"""
Measuring side by side: every step of a scenario runs once per round, the rounds interleave the
steps (their order rotates from round to round, so none is always first or last), the first
``warmup`` rounds are thrown away, and each step keeps one time per measured round. Ratios are
taken round by round, between times measured a few seconds apart, because on a shared machine
absolute times drift and ratios hold.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class HarnessError(RuntimeError):
    """The benchmark itself could not run a step (not a slow result): the run exits non-zero."""


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def load1() -> float:
    """The 1-minute load average."""
    return os.getloadavg()[0]


@dataclass
class Samples:
    """Seconds per measured round for each step, and the 1-minute load average at each round."""

    times: dict[str, list[float]] = field(default_factory=dict)
    loads: list[float] = field(default_factory=list)

    def __getitem__(self, step: str) -> list[float]:
        return self.times[step]

    def ratios(self, numerator: Callable[[dict[str, float]], float],
               denominator: Callable[[dict[str, float]], float]) -> list[float]:
        """One ratio per round, e.g. ``ratios(lambda t: t["deploy"] - t["pyinfra"], lambda t: t["psql"])``."""
        rounds = len(self.loads)
        per_round = [{name: values[i] for name, values in self.times.items()} for i in range(rounds)]
        return [numerator(r) / denominator(r) for r in per_round]


def interleave(steps: dict[str, Callable[[], float]], repeat: int, warmup: int, label: str,
               before_round: Callable[[], None] | None = None,
               after_round: Callable[[], None] | None = None) -> Samples:
    """
    Run ``warmup + repeat`` rounds of ``steps`` (each returns the seconds it measured itself, so
    it can leave its set-up out). ``before_round``/``after_round`` prepare and clean up, untimed.
    """
    samples = Samples({name: [] for name in steps})
    names = list(steps)
    for index in range(warmup + repeat):
        measured = index >= warmup
        what = f"round {index - warmup + 1}/{repeat}" if measured else f"warm-up {index + 1}/{warmup}"
        say(f"{label}: {what}")
        if before_round:
            before_round()
        shift = index % len(names)
        load = load1()
        try:
            for name in names[shift:] + names[:shift]:
                elapsed = steps[name]()
                if measured:
                    samples.times[name].append(elapsed)
        finally:
            if after_round:
                after_round()
        if measured:
            samples.loads.append(max(load, load1()))
    return samples


def run(command: list[str], *, env: dict | None = None, stdin: str | None = None, cwd: Path = ROOT,
        what: str | None = None) -> float:
    """Run ``command``; return its wall time in seconds. A failure is a :class:`HarnessError`."""
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise HarnessError(f"{what or command[0]}: {exc}") from None
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip())[-1500:]
        raise HarnessError(f"{what or ' '.join(command[:3])} failed (exit {done.returncode}):\n{tail}")
    return elapsed


def timed(function: Callable[[], object]) -> float:
    """Call ``function``; return its wall time in seconds."""
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def median(values: list[float]) -> float:
    return statistics.median(values)
