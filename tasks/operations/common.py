"""
Helpers shared by the operations: refusing with one clear line, showing the plan once, running
a Python step, and feeding the final summary (:mod:`tasks.core.summary`).
"""

from __future__ import annotations

import logging
from typing import Callable, Iterator

from pyinfra import host, logger
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
    if planning():
        summary.checked_while_planning(current_state(), message)
    else:
        summary.record(current_state(), "converged", message)


def refuse(message: str) -> Iterator[FunctionCommand]:
    """Stop the run with ``message``: at plan time before anything runs, at execute time as a failed command."""
    if planning():
        stop_planning(message)
        return
    summary.record(current_state(), "failed", message)

    def fail(state, host) -> bool:
        host.log_styled(f"pgconverge: {message}", fg="red")
        if logger.isEnabledFor(logging.DEBUG):
            return False  # pyinfra's own "Error: executed 0 commands" / "No hosts remaining!" too
        raise SystemExit(1)  # the failure is ours and said: one line, then the summary (at exit)

    yield FunctionCommand(fail, (), {})


def stop_planning(message: str) -> None:
    """
    A refusal while planning (``--dry``, or before the confirmation prompt) ends the run the way
    a failure at execute time does: one ``pgconverge:`` line, then the summary (this state failed,
    the ones before it as planned, the rest not reached), exit status 1, and no prompt. pyinfra
    itself would print its ``Operation error in <file> line <n>`` instead; with ``--debug`` it does.

    In deploy.py the later operations are still added (so the summary knows every state) but no
    longer planned: pyinfra stops reading facts for them, and :func:`tasks.core.summary.end_of_plan`,
    the file's last line, exits. A deploy file without summary states (restore.py, reset.py)
    exits at once.
    """
    name = current_state()
    summary.stopped_while_planning(name, message)
    if logger.isEnabledFor(logging.DEBUG):
        raise OperationError(message)
    host.log_styled(f"pgconverge: {message}", fg="red")
    if name not in summary.current().planned:
        raise SystemExit(1)  # past pyinfra's own report of an OperationError
    state.check_for_changes = False


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
