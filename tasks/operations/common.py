"""
Helpers shared by the operations: refusing with one clear line, showing the plan once, running
a Python step, and feeding the final summary (:mod:`tasks.core.summary`).

Whatever goes wrong inside a desired state ends the same way: one ``pgconverge:`` line (see
:func:`tasks.core.errors.describe`), the state's summary row "failed" with that line, and no
traceback unless pyinfra runs with ``--debug``. :func:`operation` (pyinfra's, guarded) covers the
op bodies (fact reads, planning), :func:`python_step` the work done in this process.
"""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pyinfra import host, logger
from pyinfra.api import FunctionCommand, OperationError
from pyinfra.api import operation as pyinfra_operation
from pyinfra.context import state

from tasks.core import pgtools, sessions, summary
from tasks.core.cli_output import escape_host_logs
from tasks.core.errors import describe

escape_host_logs()  # every line an operation logs: control characters escaped (one place)


def planning() -> bool:
    """True while pyinfra runs the op bodies to detect changes (``--dry`` or before the prompt)."""
    return not state.is_executing


def current_state() -> str:
    """The ``name=`` of the operation being run."""
    names = state.get_op_meta(host.current_op_hash).names if host.current_op_hash else ()
    return next(iter(names), "operation")


@dataclass(frozen=True)
class Outcome:
    """What a state's step did in this run: ``changed`` or ``failed``, and the line saying what."""

    status: str
    detail: str


# The typed results of the states whose steps ran, by operation (module and name, never the display
# name): what the Heroku checks ask. The op whose body is running is on top of ``_running``.
# Each environment's own (a run with environments deploys several hosts in one process).
outcomes: dict[str | None, dict[str, Outcome]] = {}
_running: list[str] = []


def key_of(op: Callable[..., Any]) -> str:
    """The key of an operation (pyinfra's decorated function keeps its body's module and name)."""
    return f"{op.__module__}.{op.__qualname__}"


def changed_in_this_run(ops: Iterable[Callable[..., Any]]) -> bool:
    """Whether any of these operations changed something so far in this run (always False while planning)."""
    return not planning() and any(
        (found := outcomes_of(summary.environment()).get(key_of(op))) is not None and found.status == "changed"
        for op in ops
    )


def outcomes_of(environment: str | None) -> dict[str, Outcome]:
    """The outcomes of one environment's states (None: a run without environments)."""
    return outcomes.setdefault(environment, {})


def will_check(message: str) -> None:
    """The plan cannot check this state yet (it waits for the proof, the migrations, the run's end):
    ``host.noop``, and a dry run's summary row says "will check" with ``message``, never "converged"."""
    host.noop(message)
    if planning():
        summary.checked_later(current_state(), message)


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
        if logger.isEnabledFor(logging.DEBUG) or len(state.inventory) > 1:
            return False  # pyinfra's own "Error: executed 0 commands"; with environments the others go on
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

    With several environments only this one stops: its later states are skipped while planning
    (:func:`operation`), and ``end_of_plan`` fails its host; the others are planned and run.
    """
    name = current_state()
    summary.stopped_while_planning(name, message)
    if logger.isEnabledFor(logging.DEBUG):
        raise OperationError(message)
    host.log_styled(f"pgconverge: {message}", fg="red")
    if name not in summary.current().planned:
        raise SystemExit(1)  # past pyinfra's own report of an OperationError
    if several_environments():
        return  # this environment alone: see this_environment_stopped
    state.check_for_changes = False


def several_environments() -> bool:
    """Whether this run deploys several environments (hosts) in one process."""
    inventory = getattr(state, "inventory", None)
    return inventory is not None and len(inventory) > 1


def this_environment_stopped() -> bool:
    """While planning several environments: this one refused already (its later states are not planned)."""
    return planning() and several_environments() and summary.current().stopped_planning


def show_plan(lines: list[str]) -> None:
    """Print the pending changes once, at plan time (the dry run and the confirmation screen)."""
    if planning():
        for line in lines:
            host.log(line)


def failure(exc: BaseException) -> str:
    """The one line for ``exc``; its traceback goes to pyinfra's debug log (shown with ``--debug``)."""
    logger.debug("".join(traceback.format_exception(exc)))
    return describe(exc)


def operation(*args, **kwargs):
    """
    pyinfra's ``@operation()`` for a desired state whose body can never leak a traceback: an
    exception raised while it reads facts or plans becomes :func:`refuse` with one line.
    """

    def decorate(body):
        key = key_of(body)

        @functools.wraps(body)
        def guarded(*op_args, **op_kwargs):
            if this_environment_stopped():
                return
            steps = body(*op_args, **op_kwargs)
            while True:
                _running.append(key)  # the steps this body makes know whose results they are
                try:
                    command, problem = next(steps), None
                except StopIteration:
                    return
                except OperationError:
                    raise
                except Exception as exc:  # noqa: BLE001 - every failure ends as one line, by design
                    command, problem = None, failure(exc)
                finally:
                    _running.pop()
                if problem is not None:
                    yield from refuse(problem)
                    return
                yield command

        return pyinfra_operation(*args, **kwargs)(guarded)

    return decorate


def python_step(function: Callable[[Callable[[str], None]], str], rows_only: bool = False) -> FunctionCommand:
    """
    A command that runs ``function(log)`` in this process. What it returns (what changed, e.g.
    "applied 005, 006") goes in the summary. ``rows_only``: it changes rows and nothing else (the
    facts that depend on the schema alone stay cached). Any error fails the op with one line, the same in
    the output and in the summary row (every :class:`~tasks.core.errors.ActionableError` is already
    one line; :func:`failure` turns anything else into one).
    """
    name, key = current_state(), (_running[-1] if _running else "")

    def run(state, host) -> bool:
        # The facts' sessions close first: the work gets every connection slot the role has (a role
        # limited to one connection still migrates); the next state reads over a new session.
        services = host.data.get("services")  # this environment's sessions (another's may be reading)
        sessions.close_all(services)
        try:
            changed = function(host.log)
        except Exception as exc:  # noqa: BLE001 - every failure ends as one line, by design
            message = failure(exc)
            host.log_styled(f"pgconverge: {message}", fg="red")
            summary.record(name, "failed", message)
            outcomes_of(host.data.get("environment"))[key] = Outcome("failed", message)
            return False
        finally:
            sessions.forget(rows_only, services)  # it may have changed what was read: the next state reads afresh
        summary.record(name, "changed", changed or "done")
        outcomes_of(host.data.get("environment")).setdefault(key, Outcome("changed", changed or "done"))
        return True

    return FunctionCommand(run, (), {})


def client_too_old(label: str, server_version_num: int) -> str | None:
    """Why no local pg_dump can back up this server (every installed one is older), or None."""
    server = server_version_num // 10000
    available = pgtools.installed()
    if pgtools.choose(available, server) is None:
        return pgtools.missing_message(label, server, available)
    return None


def running_state() -> Callable[[], str | None]:
    """A reader of the ``name=`` of the op being run (or planned) right now, for a signal handler:
    pyinfra's ``state``/``host`` are per-greenlet, so the real objects are taken here."""
    real_state = state._get_module()  # type: ignore[attr-defined]  # pyinfra's context proxy: the object behind it
    hosts = list(real_state.inventory)

    def running() -> str | None:
        if not real_state.is_executing and not any(one.current_op_hash for one in hosts):
            return "planning (nothing was changed yet)"  # e.g. at pyinfra's "Are you sure?" prompt
        for one in hosts:
            op_hash = one.executing_op_hash or one.current_op_hash
            if op_hash:
                try:
                    return next(iter(real_state.get_op_meta(op_hash).names), None)
                except (KeyError, AttributeError):
                    return None
        return None

    return running
