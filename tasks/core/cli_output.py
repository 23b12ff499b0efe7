"""
pyinfra's own tables stay out of our output: its "Detected changes" table (with the boilerplate
"Detected changes may not include every change pyinfra will execute. ...") and its results table
stand beside the summary, which says the same per state, truly (issue 31). With ``--debug`` they are
printed as pyinfra prints them. Only the CLI module's own references are replaced: nothing else of
pyinfra changes, and ``--json`` is printed as before.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

BOILERPLATE = "Detected changes may not include every change"


class _Click:
    """pyinfra_cli.cli's ``click``, without the echo of the boilerplate paragraph."""

    def __init__(self, click: Any):
        self._click = click

    def __getattr__(self, name: str) -> Any:
        return getattr(self._click, name)

    def echo(self, message: Any = None, *args: Any, **kwargs: Any) -> None:
        if isinstance(message, str) and BOILERPLATE in message:
            return
        self._click.echo(message, *args, **kwargs)


HEADINGS = ("--> Detected changes:", "--> Results:")  # the headings of the tables hidden


# pyinfra's own lines on a failed run: our summary names the state that failed and why.
FAILURE_LINES = ("Error: executed 0 commands", "No hosts remaining!")


class _NoTableHeadings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = re.sub(r"\x1b\[[0-9;]*m", "", record.getMessage())  # pyinfra styles part of a line
        return message not in HEADINGS and not any(line in message for line in FAILURE_LINES)


def _confirm_or_exit(confirm: Any) -> Any:
    """pyinfra's prompt, where an answer other than Enter (or no terminal at all) ends the run with
    exit status 1 and the summary saying it was not confirmed (pyinfra alone exits 0, silently)."""

    def asking(message: str) -> bool:
        from tasks.core import summary

        try:
            if confirm(message):
                return True
            why = "not confirmed at the prompt: nothing was changed"
        except EOFError:
            why = "not confirmed: no terminal to answer the prompt (run with -y, or --dry): nothing was changed"
        if not summary.not_confirmed(why):
            print(f"pgconverge: {why}", file=sys.stderr)
        sys.exit(1)

    asking.wrapped = confirm  # type: ignore[attr-defined]
    return asking


def _silent(*args: Any, **kwargs: Any) -> None:
    return None


def hide_pyinfra_tables(debug: bool | None = None) -> bool:
    """Hide pyinfra's change and results tables for this process (unless ``--debug``); True when hidden.
    Outside pyinfra's CLI (tests calling the API) nothing is touched."""
    cli = sys.modules.get("pyinfra_cli.cli")
    if cli is None:
        return False
    if debug is None:
        from pyinfra import logger

        debug = logger.isEnabledFor(logging.DEBUG)
    if not hasattr(getattr(cli, "_do_confirm", None), "wrapped"):
        cli._do_confirm = _confirm_or_exit(cli._do_confirm)  # type: ignore[attr-defined]
    if debug:
        return False
    cli.print_meta = _silent  # type: ignore[attr-defined]
    cli.print_results = _silent  # type: ignore[attr-defined]
    from pyinfra import logger

    if not any(isinstance(f, _NoTableHeadings) for f in logger.filters):
        logger.addFilter(_NoTableHeadings())
    if not isinstance(getattr(cli, "click", None), _Click):
        cli.click = _Click(cli.click)  # type: ignore[attr-defined]
    return True


def escape_host_logs() -> None:
    """Every line an operation logs through pyinfra's ``host.log`` / ``host.log_styled`` is shown with its control
    characters escaped (:func:`tasks.core.shown.escape_controls`): a database, table or folder name holding ESC,
    BEL or a line break is printed as ``\\x1b``, never raw. The styling (pyinfra's colours) is added after."""
    from pyinfra.api.host import Host
    from pyinfra.api.util import format_text

    from tasks.core.shown import escape_controls

    if getattr(Host.log, "escapes_controls", False):
        return
    raw_log = Host.log

    def log(self: Any, message: str, log_func: Any = None, **kwargs: Any) -> None:
        text = escape_controls(str(message))
        raw_log(self, text, log_func) if log_func else raw_log(self, text)

    def log_styled(self: Any, message: str, log_func: Any = None, **kwargs: Any) -> None:
        text = format_text(escape_controls(str(message)), **kwargs)
        raw_log(self, text, log_func) if log_func else raw_log(self, text)

    log.escapes_controls = True  # type: ignore[attr-defined]
    Host.log = log  # type: ignore[method-assign]
    Host.log_styled = log_styled  # type: ignore[method-assign]
