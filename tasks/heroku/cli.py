"""
The Heroku CLI, run the way automation must run it:

* stdin closed and a timeout, so a 401 can never wait for an interactive login;
* ``DISABLE_TELEMETRY=true``; ``HEROKU_API_KEY`` and the environment without secrets
  (:func:`tasks.core.environment.heroku_env`);
* the binary is the first ``heroku`` on PATH, else the project's own copy in
  ``.tools/heroku`` (``make setup`` installs the pinned version there), else ``HEROKU_CLI``;
* the limits come from the run's settings, handed down as :class:`CliSettings` (:func:`configure`);
* a failure becomes one :class:`HerokuError` line that names the cause and the way forward.
  Its output is never part of a message: ``config:get`` prints the database password.

Every call starts Node.js (about a second), so :data:`calls` counts them for the summary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tasks.core.environment import heroku_env
from tasks.core.errors import ActionableError
from tasks.heroku.parse import parse_cli_error

ROOT = Path(__file__).resolve().parents[2]
PROJECT_CLI = ROOT / ".tools" / "heroku" / "node_modules" / ".bin" / "heroku"
PINNED_VERSION = "11.10.0"
DEFAULT_TIMEOUT_S = 120.0
DEFAULT_LOG_WINDOW_S = 20.0  # a Fir app's `heroku logs` streams and never ends: read this long

calls: list[str] = []  # the subcommand of each call made by this process, in order


class HerokuError(ActionableError, RuntimeError):
    """A Heroku CLI call failed; the message is one line with the way forward (never a secret).
    ``kind`` is :class:`~tasks.heroku.parse.CliFailure`'s (``"timeout"``, ``"setup"`` for ours)."""

    def __init__(self, message: str, kind: str = "other"):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class CliSettings:
    """The run's limits for the Heroku CLI (``HEROKU_CLI_TIMEOUT``, ``HEROKU_LOG_WINDOW``, validated
    by :mod:`tasks.core.settings`)."""

    timeout_s: float = DEFAULT_TIMEOUT_S
    log_window_s: float = DEFAULT_LOG_WINDOW_S
    binary: str = ""  # HEROKU_CLI, from the environment or ENV_FILE ('' : found on PATH or in .tools)


_settings = CliSettings()


def configure(settings: CliSettings) -> None:
    """The run hands its settings down once; every later call without ``settings=`` uses them."""
    global _settings
    _settings = settings


def current_settings() -> CliSettings:
    return _settings


def default_timeout(settings: CliSettings | None = None) -> float:
    """The seconds a call may take: the run's ``HEROKU_CLI_TIMEOUT``, else 120."""
    return (settings or _settings).timeout_s


def named_cli(environ: dict | None = None, settings: CliSettings | None = None) -> str:
    """``HEROKU_CLI`` as the run's settings have it (environment or ENV_FILE), else as ``environ`` does."""
    env = os.environ if environ is None else environ
    return (settings or _settings).binary or env.get("HEROKU_CLI", "").strip()


def find_cli(environ: dict | None = None, settings: CliSettings | None = None) -> str | None:
    """The ``heroku`` to run: ``HEROKU_CLI``, the first on PATH, or the project's pinned copy."""
    env = os.environ if environ is None else environ
    named = named_cli(environ, settings)
    if named:
        return named if Path(named).is_file() and os.access(named, os.X_OK) else None
    found = shutil.which("heroku", path=env.get("PATH", os.defpath))
    if found:
        return found
    return str(PROJECT_CLI) if PROJECT_CLI.exists() else None


def cli_env(environ: dict | None = None) -> dict[str, str]:
    """The CLI's environment, built by :func:`tasks.core.environment.heroku_env`."""
    return heroku_env(environ)


def run(
    app: str,
    args: list[str],
    timeout: float | None = None,
    environ: dict | None = None,
    window: float | None = None,
    settings: CliSettings | None = None,
) -> subprocess.CompletedProcess:
    """
    ``heroku SUBCOMMAND -a APP ARGS`` → the finished process (stdout and stderr as text).
    Raises :class:`HerokuError` when the CLI is missing, times out or exits non-zero.
    ``window``: a stream that never ends on its own (``heroku logs`` on a Fir app) is stopped
    after this many seconds and what it printed so far is the result. ``settings``: the run's
    (:func:`configure`) unless given.
    """
    timeout = timeout or default_timeout(settings)
    command = args[0]
    binary = find_cli(environ, settings)
    named = named_cli(environ, settings)
    if binary is None and named:
        raise HerokuError(
            f"HEROKU_CLI: {named} is not an executable file: point it at the heroku binary or unset it", kind="setup"
        )
    if binary is None:
        raise HerokuError(
            f"the Heroku CLI is not installed (no heroku on PATH nor in {PROJECT_CLI.parent.parent.parent}): "
            f"run make setup (installs heroku@{PINNED_VERSION} there) or npm install -g heroku",
            kind="setup",
        )
    calls.append(command)
    try:
        done = subprocess.run(
            cli_argv(binary, args, app),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=window or timeout,
            env=cli_env(environ),
            check=False,
        )
    except FileNotFoundError:
        raise HerokuError(
            f"the Heroku CLI at {binary} cannot be started (is node installed?): run make setup", kind="setup"
        ) from None
    except subprocess.TimeoutExpired as stopped:
        if window:
            return subprocess.CompletedProcess(stopped.cmd, 0, _text(stopped.stdout), _text(stopped.stderr))
        raise HerokuError(
            f"heroku {command} -a {app} did not finish within {timeout:g}s: check the network and "
            "https://status.heroku.com, then re-run (nothing was changed by pgconverge; HEROKU_CLI_TIMEOUT "
            "sets the limit)",
            kind="timeout",
        ) from None
    if done.returncode != 0:
        raise HerokuError(
            explain_failure(app, command, done.returncode, done.stderr), parse_cli_error(done.stderr).kind
        )
    return done


def _text(output: bytes | str | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def cli_argv(binary: str, args: list[str], app: str) -> list[str]:
    """
    ``heroku SUBCOMMAND -a APP FLAGS… [-- COMMAND…]``: the CLI stops reading its own flags at ``--``,
    so ``-a APP`` goes right after the subcommand and whatever follows ``--`` stays as given.
    """
    return [binary, args[0], "-a", app, *args[1:]]


def explain_failure(app: str, command: str, code: int, stderr: str) -> str:
    """One line for a failed call: the cause in words, the CLI's own message, the way forward."""
    failure = parse_cli_error(stderr)
    if failure.kind == "auth":
        return (
            f"heroku {command}: not logged in to Heroku ({failure.message}): set HEROKU_API_KEY "
            "(heroku authorizations:create --short) or run heroku login"
        )
    if failure.kind == "network":
        return (
            f"heroku {command}: cannot reach the Heroku API ({failure.message}): check the network, "
            "HTTPS_PROXY and https://status.heroku.com, then re-run (nothing was changed)"
        )
    if failure.kind == "app":
        return f"Heroku app {app} not found ({failure.message}): check HEROKU_APP against heroku apps"
    if failure.kind == "server":
        return (
            f"heroku {command}: the Heroku API failed ({failure.message}, an error page): check "
            "https://status.heroku.com, then re-run (nothing was changed by pgconverge)"
        )
    if failure.kind == "no-exit-code":
        return (
            f"heroku {command} -a {app}: the dyno's shell ended before it reported an exit status "
            f"({failure.message}): the command must not end the shell itself (no top-level exit; "
            "wrap it as sh -c '…')"
        )
    if failure.kind == "no-database":
        return (
            f"Heroku app {app} has no Postgres database ({failure.message}): "
            f"provision one with heroku addons:create heroku-postgresql:essential-0 -a {app}"
        )
    return f"heroku {command} -a {app} failed (exit {code}): {failure.message}"
