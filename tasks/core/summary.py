"""
The final summary: one row per desired state (converged, changed: what, skipped: why, failed:
why), then the health checks, then where the backups and reports are. Printed on stderr when the
process exits (also after a failure), and written as JSON to ``REPORT_DIR/latest-run.json`` and
``REPORT_DIR/history/run-<time>-<pid>-<random>.json`` (the newest ``REPORT_KEEP`` kept: :mod:`tasks.core.reports`).
Operations feed it through :func:`record`; :func:`table` and :func:`document` are pure: the summary
only renders (nothing reads it to decide). A dry run's state that cannot be checked before the
changes it waits for says so ("will check"); it is never shown "converged".
"""

from __future__ import annotations

import atexit
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tasks.core import reports
from tasks.core.shown import escape_controls

# Every colour of the output, once: the states' statuses and the health checks'.
COLORS = {
    "converged": "32",
    "changed": "33",
    "would change": "33",
    "will check": "36",
    "skipped": "2",
    "failed": "31",
    "green": "32",
    "yellow": "33",
    "red": "31",
}
HEALTH_NAME_WIDTH = 20


def colored(status: str, text: str, color: bool) -> str:
    """``text`` in the colour of ``status`` (on a terminal), else as it is."""
    return f"\033[{COLORS[status]}m{text}\033[0m" if color and status in COLORS else text


@dataclass
class Row:
    state: str
    status: str  # converged | changed | skipped | failed
    detail: str


@dataclass(frozen=True)
class HealthRow:
    """One health line: a check (``status`` green, yellow or red) or a note (``status`` empty)."""

    name: str
    status: str
    summary: str
    details: tuple[str, ...] = ()

    def lines(self, color: bool = False) -> list[str]:
        name, summary = escape_controls(self.name), escape_controls(self.summary)
        if not self.status:
            return [f"{name}: {summary}"]
        head = colored(self.status, f"{self.status:<6}", color)
        return [f"{head} {name:<{HEALTH_NAME_WIDTH}} {summary}"] + [
            f"{'':6} {'':<{HEALTH_NAME_WIDTH}}   {escape_controls(d)}" for d in self.details
        ]


@dataclass
class Summary:
    rows: dict[str, Row] = field(default_factory=dict)
    absent: dict[str, str] = field(default_factory=dict)  # state name -> why it is not in this run
    health: list[HealthRow] = field(default_factory=list)
    places: dict[str, str] = field(default_factory=dict)
    notes: list = field(default_factory=list)  # callables giving "name: value" lines at the end
    planned: list[str] = field(default_factory=list)
    executed: bool = False
    checked: dict[str, str] = field(default_factory=dict)  # found converged while planning: state -> what
    will_check: dict[str, str] = field(default_factory=dict)  # not checkable while planning: state -> when
    plan: Callable[[], Any] | None = None  # the plan as the states saw it (lines() and as_dict())
    stopped_planning: bool = False  # a state refused while planning (--dry, or before the prompt)
    planned_through: bool = False  # the deploy file was read to its end (a --dry then has its plan)


_summaries: dict[str | None, Summary] = {}


def environment() -> str | None:
    """The environment of the host pyinfra is deploying in this greenlet (None: a run without environments)."""
    from pyinfra.context import ctx_host

    data = getattr(ctx_host.get(), "data", None) if ctx_host.isset() else None
    return data.get("environment") if data is not None and hasattr(data, "get") else None


def current() -> Summary:
    """The summary of the environment being deployed (each environment has its own)."""
    name = environment()
    if name not in _summaries:
        _summaries[name] = Summary()
    return _summaries[name]


def every() -> dict[str | None, Summary]:
    """Every environment's summary, by name."""
    return _summaries


def record(state: str, status: str, detail: str) -> None:
    """Keep the first failure or change of a state; a later converged note does not hide it."""
    _summary = current()
    _summary.executed = True
    previous = _summary.rows.get(state)
    if previous is None or previous.status == "converged":
        _summary.rows[state] = Row(state, status, detail.splitlines()[0] if detail else "")


def checked_while_planning(state: str, message: str) -> None:
    """A state found converged while planning (shown as such if planning stops at a later one)."""
    current().checked[state] = message


def checked_later(state: str, message: str) -> None:
    """A state the plan cannot check yet (it waits for the proof, the migrations or the end of the
    run): a dry run shows it as "will check", with when."""
    current().will_check[state] = message


def stopped_while_planning(state: str, message: str) -> None:
    """Planning stopped at ``state`` (nothing ran): it failed; the summary is printed at exit."""
    current().stopped_planning = True
    record(state, "failed", message)


def end_of_plan() -> None:
    """The deploy file's last line: after a refusal while planning, exit 1 (before pyinfra's prompt).
    After a planning pass (no ``-y``) the facts' sessions close: the prompt may wait for as long as
    the user likes, and an idle session would hold a connection slot the app may need meanwhile."""
    from pyinfra.context import ctx_state

    from tasks.core import sessions

    _summary = current()
    _summary.planned_through = True
    if _summary.stopped_planning:
        from pyinfra.context import ctx_host

        running = ctx_state.get() if ctx_state.isset() else None
        if running is not None and ctx_host.isset() and len(running.active_hosts) > 1:
            # Several environments: this one alone stops, the others go on. pyinfra's fail_hosts would
            # ask "continue?" here (without -y), a second prompt, and crash without a terminal (--dry).
            running.failed_hosts.add(ctx_host.get())
            running.active_hosts.discard(ctx_host.get())
            return
        raise SystemExit(1)
    if ctx_state.isset() and ctx_state.get().check_for_changes:
        from pyinfra.context import ctx_host

        sessions.close_all(ctx_host.get().data.get("services") if ctx_host.isset() else None)


def interrupted(state: str, detail: str, one: Summary | None = None) -> None:
    """The run was stopped by a signal while in ``state``: that row fails, whatever it said before."""
    one = one or current()
    if state in one.planned:
        one.executed = True  # the summary is shown, this row failed
        one.rows[state] = Row(state, "failed", detail)


def state(name: str) -> str:
    """Register a desired state (in deploy order) and return its name, for ``name=``."""
    planned = current().planned
    if name not in planned:
        planned.append(name)
    return name


def not_in_this_run(name: str, why: str) -> None:
    """A desired state this run leaves out on purpose (shown as skipped, with why, in its place)."""
    state(name)
    current().absent[name] = why


def rows_in_order(summary: Summary, planned: list[str], dry: bool = False) -> list[Row]:
    """Every planned state in order: left out on purpose, or unreached after a failure, is skipped;
    in a ``--dry`` run that planned through, each is converged or would change."""
    failed = False
    out = []
    for name in planned:
        if name in summary.absent:
            row = Row(name, "skipped", summary.absent[name])
        elif (
            name not in summary.rows
            and name in summary.will_check
            and (dry or summary.stopped_planning)
            and not summary.executed
            and not failed
        ):
            row = Row(name, "will check", summary.will_check[name])
        elif name not in summary.rows and summary.stopped_planning and not failed:
            row = (
                Row(name, "converged", summary.checked[name])
                if name in summary.checked
                else Row(name, "skipped", "would change; not run: the run stopped while planning")
            )
        elif name not in summary.rows and dry and not summary.executed:
            row = (
                Row(name, "converged", summary.checked[name])
                if name in summary.checked
                else Row(name, "would change", "the plan above (--dry: nothing was changed)")
            )
        else:
            why = "not reached: an earlier state failed" if failed else "not run"
            row = summary.rows.get(name) or Row(name, "skipped", why)
        failed = failed or row.status == "failed"
        out.append(row)
    return out


def table(rows: list[Row], summary: Summary, color: bool, environment: str | None = None) -> list[str]:
    width = max([len(r.state) for r in rows] + [5])
    lines = ["summary:" if environment is None else f"summary of environment {environment}:"]
    for row in rows:
        status = colored(row.status, f"{row.status:<9}", color)
        lines.append(f"  {row.state:<{width}}  {status}  {escape_controls(row.detail)}")
    if summary.health:
        lines.append("health:")
        lines += [f"  {line}" for row in summary.health for line in row.lines(color)]
    plan = summary.plan() if summary.plan else None
    if plan is not None and plan.lines():
        lines.append("plan:")
        lines += [f"  {escape_controls(line)}" for line in plan.lines()]
    for name, place in summary.places.items():
        lines.append(f"{name}: {escape_controls(place)}")
    return lines


def document(rows: list[Row], summary: Summary, environment: str | None = None) -> dict:
    plan = summary.plan() if summary.plan else None
    return {
        "environment": environment,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "ok": not any(r.status == "failed" for r in rows),
        "states": [asdict(r) for r in rows],
        "health": [line for row in summary.health for line in row.lines()],
        "plan": plan.as_dict() if plan else None,
        "risk": plan.risk.lines() if plan and plan.risk else [],  # the pending statements' risk lines
        "places": summary.places,
    }


def install(report_dir: Path, places: dict[str, str], keep: int = reports.DEFAULT_KEEP, dry: bool = False) -> None:
    """Print and write the summary when the process exits, if anything was executed."""
    name = environment()
    _summary = current()

    def finish() -> None:
        if _declined:  # the prompt was not confirmed: the plan, and that nothing ran
            rows = rows_in_order(_summary, _summary.planned, True)
            print("\n".join(table(rows, _summary, color=sys.stderr.isatty(), environment=name)), file=sys.stderr)
            print(f"pgconverge: {_declined}", file=sys.stderr)
            return
        if not _summary.executed and not (dry and _summary.planned_through):
            return  # bad input: nothing was planned
        rows = rows_in_order(_summary, _summary.planned, dry)
        for note in _summary.notes:
            _summary.places.update(note())
        if dry:  # the reports describe what the database is: a dry run leaves them as they are
            _summary.places["report"] = "not written (--dry)"
            print("\n".join(table(rows, _summary, color=sys.stderr.isatty(), environment=name)), file=sys.stderr)
            return
        try:
            text = json.dumps(document(rows, _summary, name), indent=1)
            path, _ = reports.write_report(Path(report_dir), "run", text, keep)
            _summary.places.setdefault("report", str(path))
        except OSError as exc:
            _summary.places["report"] = f"not written ({exc.strerror})"
        print("\n".join(table(rows, _summary, color=sys.stderr.isatty(), environment=name)), file=sys.stderr)

    _summary.places.update(places)
    if not _finishers:
        atexit.register(_finish_all)
    _finishers[name] = finish


_finishers: dict[str | None, Callable[[], None]] = {}
_declined = ""


def not_confirmed(why: str) -> bool:
    """pyinfra's prompt was declined: each summary shows the plan and ``why`` at exit; False when no
    summary is kept in this process (restore.py: the caller says ``why`` itself)."""
    global _declined
    _declined = why
    return bool(_finishers)


def _finish_all() -> None:
    """Each environment's summary, in the order of their names (one after the other, not interleaved)."""
    for name in sorted(_finishers, key=str):
        _finishers[name]()
