"""Writing a benchmark's results: a small Markdown page with the machine, the date and a table."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path


def write(path: str | Path, title: str, command: str, header: tuple[str, ...], rows: list[tuple[str, ...]],
          note: str = "") -> str:
    """Write ``path`` and return its text (also printed by the caller)."""
    text = "\n".join([
        f"# {title}",
        "",
        f"`{command}`{note}: on {platform.node()} ({os.cpu_count()} cores, Python {platform.python_version()}), "
        f"{time.strftime('%Y-%m-%d')}.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *["| " + " | ".join(row) + " |" for row in rows],
        "",
    ])
    Path(path).write_text(text)
    return text
