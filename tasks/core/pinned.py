"""
The settings every session of the tool starts with, whatever the role's or database's defaults
(``ALTER ROLE ... SET``): those that change how SQL is parsed or how names resolve. Sent as the
libpq ``options`` startup parameter, they outrank role and database defaults and are what
``RESET ALL`` returns to. Pure.
"""

from __future__ import annotations

PINNED = {"standard_conforming_strings": "on", "search_path": '"$user",public'}
PINNED_OPTIONS = " ".join(f"-c {name}={value}" for name, value in PINNED.items())


def with_pinned(options: str | None) -> str:
    """A libpq ``options`` value: the caller's, then ours (the later ``-c`` wins)."""
    return f"{options} {PINNED_OPTIONS}" if options else PINNED_OPTIONS
