"""
The final summary: one row per desired state (converged, changed: what, skipped: why, failed:
why), then the health checks, then where the backups and reports are. Printed on stderr when the
process exits (also after a failure), and written as JSON to ``REPORT_DIR/latest-run.json`` and
``REPORT_DIR/history/run-<time>-<pid>-<random>.json`` (the newest ``REPORT_KEEP`` kept: :mod:`tasks.core.reports`).
Operations feed it through :func:`record`; :func:`table` and :func:`document` are pure.
"""

from __future__ import annotations

import atexit
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tasks.core import reports

COLORS = {"converged": "32", "changed": "33", "would change": "33", "skipped": "2", "failed": "31"}
HEALTH_COLORS = {"green": "32", "yellow": "33", "red": "31"}


@dataclass
class Row:
    state: str
    status: str  # converged | changed | skipped | failed
    detail: str


@dataclass
class Summary:
    rows: dict[str, Row] = field(default_factory=dict)
    absent: dict[str, str] = field(default_factory=dict)  # state name -> why it is not in this run
    health: list[str] = field(default_factory=list)
    risk: list[str] = field(default_factory=list)  # the pending statements' risk lines (tasks.operations.risk)
    places: dict[str, str] = field(default_factory=dict)
    notes: list = field(default_factory=list)  # callables giving "name: value" lines at the end
    planned: list[str] = field(default_factory=list)
    executed: bool = False
    checked: dict[str, str] = field(default_factory=dict)  # found converged while planning: state -> what
    stopped_planning: bool = False  # a state refused while planning (--dry, or before the prompt)
    planned_through: bool = False  # the deploy file was read to its end (a --dry then has its plan)


_summary = Summary()


def current() -> Summary:
    return _summary


def record(state: str, status: str, detail: str) -> None:
    """Keep the first failure or change of a state; a later converged note does not hide it."""
    _summary.executed = True
    previous = _summary.rows.get(state)
    if previous is None or previous.status == "converged":
        _summary.rows[state] = Row(state, status, detail.splitlines()[0] if detail else "")


def checked_while_planning(state: str, message: str) -> None:
    """A state found converged while planning (shown as such if planning stops at a later one)."""
    _summary.checked[state] = message


def stopped_while_planning(state: str, message: str) -> None:
    """Planning stopped at ``state`` (nothing ran): it failed; the summary is printed at exit."""
    _summary.stopped_planning = True
    record(state, "failed", message)


def end_of_plan() -> None:
    """The deploy file's last line: after a refusal while planning, exit 1 (before pyinfra's prompt).
    After a planning pass (no ``-y``) the facts' sessions close: the prompt may wait for as long as
    the user likes, and an idle session would hold a connection slot the app may need meanwhile."""
    from pyinfra.context import ctx_state

    from tasks.core import sessions

    _summary.planned_through = True
    if _summary.stopped_planning:
        raise SystemExit(1)
    if ctx_state.isset() and ctx_state.get().check_for_changes:
        sessions.close_all()


def interrupted(state: str, detail: str) -> None:
    """The run was stopped by a signal while in ``state``: that row fails, whatever it said before."""
    if state in _summary.planned:
        _summary.executed = True  # the summary is shown, this row failed
        _summary.rows[state] = Row(state, "failed", detail)


def state(name: str) -> str:
    """Register a desired state (in deploy order) and return its name, for ``name=``."""
    if name not in _summary.planned:
        _summary.planned.append(name)
    return name


def not_in_this_run(name: str, why: str) -> None:
    """A desired state this run leaves out on purpose (shown as skipped, with why, in its place)."""
    state(name)
    _summary.absent[name] = why


def rows_in_order(summary: Summary, planned: list[str], dry: bool = False) -> list[Row]:
    """Every planned state in order: left out on purpose, or unreached after a failure, is skipped;
    in a ``--dry`` run that planned through, each is converged or would change."""
    failed = False
    out = []
    for name in planned:
        if name in summary.absent:
            row = Row(name, "skipped", summary.absent[name])
        elif name not in summary.rows and summary.stopped_planning and not failed:
            row = (Row(name, "converged", summary.checked[name]) if name in summary.checked
                   else Row(name, "skipped", "would change; not run: the run stopped while planning"))
        elif name not in summary.rows and dry and not summary.executed:
            row = (Row(name, "converged", summary.checked[name]) if name in summary.checked
                   else Row(name, "would change", "the plan above (--dry: nothing was changed)"))
        else:
            row = summary.rows.get(name) or Row(name, "skipped", "not reached: an earlier state failed" if failed else "not run")
        failed = failed or row.status == "failed"
        out.append(row)
    return out


def table(rows: list[Row], summary: Summary, color: bool) -> list[str]:
    width = max([len(r.state) for r in rows] + [5])
    lines = ["summary:"]
    for row in rows:
        status = f"{row.status:<9}"
        if color:
            status = f"\033[{COLORS.get(row.status, '0')}m{status}\033[0m"
        lines.append(f"  {row.state:<{width}}  {status}  {row.detail}")
    if summary.health:
        lines.append("health:")
        for line in summary.health:
            status = line.split(" ", 1)[0]
            if color and status in HEALTH_COLORS:
                line = f"\033[{HEALTH_COLORS[status]}m{status}\033[0m{line[len(status):]}"
            lines.append(f"  {line}")
    for name, place in summary.places.items():
        lines.append(f"{name}: {place}")
    return lines


def document(rows: list[Row], summary: Summary) -> dict:
    return {
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "ok": not any(r.status == "failed" for r in rows),
        "states": [asdict(r) for r in rows],
        "health": summary.health,
        "risk": summary.risk,
        "places": summary.places,
    }


def install(report_dir: Path, places: dict[str, str], keep: int = reports.DEFAULT_KEEP) -> None:
    """Print and write the summary when the process exits, if anything was executed."""

    def finish() -> None:
        dry = "--dry" in sys.argv
        if not _summary.executed and not (dry and _summary.planned_through):
            return  # bad input: nothing was planned
        rows = rows_in_order(_summary, _summary.planned, dry)
        for note in _summary.notes:
            _summary.places.update(note())
        if dry:  # the reports describe what the database is: a dry run leaves them as they are
            _summary.places["report"] = "not written (--dry)"
            print("\n".join(table(rows, _summary, color=sys.stderr.isatty())), file=sys.stderr)
            return
        try:
            path, _ = reports.write_report(Path(report_dir), "run", json.dumps(document(rows, _summary), indent=1), keep)
            _summary.places.setdefault("report", str(path))
        except OSError as exc:
            _summary.places["report"] = f"not written ({exc.strerror})"
        print("\n".join(table(rows, _summary, color=sys.stderr.isatty())), file=sys.stderr)

    _summary.places.update(places)
    atexit.register(finish)
