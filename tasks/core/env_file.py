"""
ENV_FILE's own checks, before it is read: not a regular file (a FIFO would hang the run), or a key
given twice (the last would win, silently).
"""

from __future__ import annotations

from pathlib import Path

from tasks.core.setting_values import SettingsError
from tasks.core.shown import shown


def refuse_odd_env_file(env_file: Path) -> None:
    """A FIFO or device at ENV_FILE is refused in one line, never read."""
    if env_file.exists() and not env_file.is_dir() and not env_file.is_file():
        raise SettingsError(
            f"ENV_FILE: {shown(env_file)} is not a regular file (a FIFO or a device): pgconverge "
            "does not read it; point ENV_FILE at a file"
        )


def refuse_repeated_keys(env_file: Path) -> None:
    """A key given twice in ENV_FILE (the last would win, silently) stops the run, naming it and both lines."""
    from dotenv.parser import parse_stream

    first: dict[str, int] = {}
    with open(env_file, encoding="utf-8") as stream:
        for binding in parse_stream(stream):
            if binding.key is None:
                continue
            line = binding.original.line
            if binding.key in first:
                raise SettingsError(
                    f"ENV_FILE: {binding.key} is given twice in {env_file} (lines {first[binding.key]} "
                    f"and {line}; the last would win): keep one; nothing was touched"
                )
            first[binding.key] = line
