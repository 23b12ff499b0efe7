"""Counts the reliability suite publishes (reports/reliability.json), for the README's section."""

import json
from pathlib import Path

FILE = Path(__file__).resolve().parents[2] / "reports" / "reliability.json"


def add(name: str, count: int) -> None:
    FILE.parent.mkdir(parents=True, exist_ok=True)
    counts = json.loads(FILE.read_text()) if FILE.exists() else {}
    counts[name] = count
    FILE.write_text(json.dumps(counts, indent=1, sort_keys=True))
