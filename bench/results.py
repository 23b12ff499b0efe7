"""
The one results writer: every scenario returns :class:`Row` objects, and :func:`write` turns them
into a single Markdown page (machine, versions, date, one table of medians and ratios, then the
closing notes). Pure apart from reading /proc for the machine's description.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Goal:
    """A ratio's goal: ``ratio <= high`` (and ``>= low`` when given)."""

    high: float
    low: float | None = None
    text: str = ""

    def label(self) -> str:
        return self.text or f"≤ {self.high:g}"

    def missed_by(self, ratio: float) -> float:
        """How far ``ratio`` is outside the goal, as a fraction (0 when it is met)."""
        if ratio > self.high:
            return ratio / self.high - 1
        if self.low is not None and ratio < self.low:
            return self.low / ratio - 1
        return 0.0


@dataclass
class Row:
    scenario: str
    size: str
    measurement: str
    times: list[float] = field(default_factory=list)  # seconds, one per measured round
    ratios: list[float] = field(default_factory=list)  # one per measured round
    goal: Goal | None = None
    loads: list[float] = field(default_factory=list)  # 1-minute load average per round
    unit: str = "s"  # "s" or "ms" (how the times are shown)
    note: str = ""  # why there is no number (a peer not installed, an invalid run)
    goal_on: str = "ratio"  # what the goal is about: "ratio", or "time" (the median, in seconds)

    @property
    def ratio(self) -> float | None:
        return statistics.median(self.ratios) if self.ratios else None

    @property
    def missed(self) -> float | None:
        """How much the goal is missed by (fraction), 0.0 when met, None without goal or number."""
        value = self.ratio if self.goal_on == "ratio" else (statistics.median(self.times) if self.times else None)
        if self.goal is None or value is None or self.note:
            return None
        return self.goal.missed_by(value)


def _time(seconds: float, unit: str) -> str:
    return f"{seconds * 1000:,.0f} ms" if unit == "ms" else f"{seconds:,.2f} s"


def _range(values: list[float], fmt) -> str:
    return f"{fmt(min(values))}–{fmt(max(values))}"


def _value(row: Row) -> str:
    return f"{row.ratio:.2f}" if row.goal_on == "ratio" else _time(statistics.median(row.times), row.unit)


def cells(row: Row) -> list[str]:
    """The table cells of ``row``."""
    if row.note:
        return [row.scenario, row.size, row.measurement, "—", "—", "—", row.goal.label() if row.goal else "—",
                row.note, _range(row.loads, lambda v: f"{v:.1f}") if row.loads else "—"]
    median = _time(statistics.median(row.times), row.unit) if row.times else "—"
    spread = _range(row.times, lambda v: _time(v, row.unit).rsplit(" ", 1)[0]) + f" {row.unit}" if row.times else "—"
    if row.ratios:
        ratio = f"**{row.ratio:.2f}**"
        if len(row.ratios) > 1:
            ratio += f" ({_range(row.ratios, lambda v: f'{v:.2f}')})"
    else:
        ratio = "—"
    missed = row.missed
    verdict = "—" if missed is None else ("met" if missed == 0 else f"**missed** by {missed:.0%}")
    load = _range(row.loads, lambda v: f"{v:.1f}") if row.loads else "—"
    return [row.scenario, row.size, row.measurement, median, spread, ratio, row.goal.label() if row.goal else "—",
            verdict, load]


HEADER = ("scenario", "size", "measurement", "median", "spread (min–max)", "ratio (per-round min–max)", "goal",
          "met?", "load 1-min")


def table(rows: list[Row]) -> list[str]:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for row in rows:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells(row)) + " |")
    return lines


def machine() -> dict[str, str]:
    """Host name, CPU, cores, memory and kernel of this machine."""
    cpu, memory = platform.processor() or platform.machine(), "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GB"
                break
    except OSError:
        pass
    return {"host": platform.node(), "cpu": cpu, "cores": str(os.cpu_count()), "memory": memory,
            "kernel": platform.release(), "bytecode": BYTECODE}


# bench.run compiles the project first (sandbox.bytecode), as a user's first run leaves it.
BYTECODE = "tasks/ compiled before the rounds (as a user's first run leaves it)"


def write(path: str | Path, title: str, command: str, intro: list[str], info: dict[str, str], versions: dict[str, str],
          rows: list[Row], notes: list[str]) -> str:
    """Write ``path`` and return its text."""
    lines = [
        f"# {title}",
        "",
        *intro,
        "",
        f"`{command}` on {time.strftime('%Y-%m-%d %H:%M %Z')}.",
        "",
        "* **Machine:** " + ", ".join(f"{key} {value}" for key, value in info.items()),
        "* **Versions:** " + ", ".join(f"{key} {value}" for key, value in versions.items()),
        "",
        *table(rows),
        "",
    ]
    missed = [row for row in rows if row.missed]
    if missed:
        lines += ["## Goals missed", ""]
        lines += [f"* {row.scenario}, {row.size}, {row.measurement}: {_value(row)} against {row.goal.label()}, "
                  f"missed by {row.missed:.0%}." for row in missed]
        lines.append("")
    for note in notes:
        lines += [note.rstrip(), ""]
    text = "\n".join(lines)
    Path(path).write_text(text)
    return text
