"""
The run's one clock: when this pyinfra process started the run (the deploy imports the run first).

:attr:`tasks.run.Run.started_at` is this instant, and the migration plan compares the target's
``applied_at`` with it: a row applied later was applied by another deploy running at the same time.
"""

from __future__ import annotations

from datetime import UTC, datetime

RUN_STARTED = datetime.now(UTC)


def run_started() -> datetime:
    """When this run started (UTC)."""
    return RUN_STARTED
