"""
Helpers shared by the operations: refusing with one clear line, showing the plan once, running
a Python step, and feeding the final summary (:mod:`tasks.core.summary`).
"""

from __future__ import annotations

from typing import Callable, Iterator

from pyinfra import host
from pyinfra.api import FunctionCommand, OperationError
from pyinfra.context import state

from tasks.core import summary
from tasks.core import pgtools


def planning() -> bool:
    """True while pyinfra runs the op bodies to detect changes (``--dry`` or before the prompt)."""
    return not state.is_executing


def current_state() -> str:
    """The ``name=`` of the operation being run."""
    names = state.get_op_meta(host.current_op_hash).names if host.current_op_hash else ()
    return next(iter(names), "operation")


def converged(message: str) -> None:
    """The no-change branch: ``host.noop`` (shown with -v), and a "converged" row in the summary."""
    host.noop(message)
    if not planning():
        summary.record(current_state(), "converged", message)


def refuse(message: str) -> Iterator[FunctionCommand]:
    """Stop the run with ``message``: an operation error at plan time, a failed command at execute time."""
    if planning():
        raise OperationError(message)
    summary.record(current_state(), "failed", message)

    def fail(state, host) -> bool:
        host.log_styled(f"pgconverge: {message}", fg="red")
        return False

    yield FunctionCommand(fail, (), {})


def changed_in_this_run(states: list[str]) -> bool:
    """Whether any of these states changed something so far in this run (always False while planning)."""
    rows = summary.current().rows
    return not planning() and any(rows[name].status == "changed" for name in states if name in rows)


def show_plan(lines: list[str]) -> None:
    """Print the pending changes once, at plan time (the dry run and the confirmation screen)."""
    if planning():
        for line in lines:
            host.log(line)


def python_step(function: Callable[[Callable[[str], None]], str], error_types: tuple[type[Exception], ...]) -> FunctionCommand:
    """
    A command that runs ``function(log)`` in this process. What it returns (what changed, e.g.
    "applied 005, 006") goes in the summary; a known error fails the op with its message.
    """
    name = current_state()

    def run(state, host) -> bool:
        try:
            changed = function(host.log)
        except error_types as exc:
            host.log_styled(f"pgconverge: {exc}", fg="red")
            summary.record(name, "failed", str(exc))
            return False
        summary.record(name, "changed", changed or "done")
        return True

    return FunctionCommand(run, (), {})


def client_too_old(label: str, server_version_num: int) -> str | None:
    """Why no local pg_dump can back up this server (every installed one is older), or None."""
    server = server_version_num // 10000
    available = pgtools.installed()
    if pgtools.choose(available, server) is None:
        return pgtools.missing_message(label, server, available)
    return None
