"""The run decides ``--dry`` once and hands it down; nothing else reads pyinfra's command line."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def argv_readers() -> list[str]:
    found = []
    for path in sorted([*ROOT.glob("tasks/**/*.py"), ROOT / "deploy.py"]):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and ast.unparse(node) == "sys.argv":
                found.append(str(path.relative_to(ROOT)))
    return found


def test_only_the_run_reads_the_command_line() -> None:
    assert set(argv_readers()) == {"tasks/run.py"}
    assert argv_readers().count("tasks/run.py") == 1


def test_the_run_has_one_clock() -> None:
    from tasks.core.clock import run_started
    from tasks.migrations import plan
    from tasks.run import Run

    assert not hasattr(plan, "RUN_STARTED")
    assert Run.__dataclass_fields__["started_at"].default_factory is run_started  # type: ignore[misc]
