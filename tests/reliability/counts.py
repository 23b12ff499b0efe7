"""
Counts the reliability suite publishes (reports/reliability.json), and the block of docs/reliability.md made from
them: ``python -m tests.reliability.counts`` rewrites the block between the markers (``make test``
runs it after the suite), ``--check`` only says whether it is current. No count is typed by hand.
"""

import fcntl
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FILE = ROOT / "reports" / "reliability.json"
DOCUMENT = ROOT / "docs" / "reliability.md"
BEGIN = "<!-- reliability counts: written by python -m tests.reliability.counts from reports/reliability.json -->"
END = "<!-- /reliability counts -->"
UPDATED = "updated"
PARTS = "parts"  # a trial loop split into parts that run on different workers: each part's own count


def add(name: str, count: int, part: str | None = None) -> None:
    """Record one count; parallel test workers add theirs under a lock, so none is lost. ``part``: this
    is one part of a loop split across workers (issue 26); the count is then the sum of the parts."""
    FILE.parent.mkdir(parents=True, exist_ok=True)
    with open(FILE.with_name(".reliability.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        counts = json.loads(FILE.read_text()) if FILE.exists() else {}
        if part is None:
            counts[name] = count
        else:
            parts = counts.setdefault(PARTS, {}).setdefault(name, {})
            parts[part] = count
            counts[name] = sum(parts.values())
        counts[UPDATED] = time.strftime("%Y-%m-%d", time.gmtime())
        FILE.write_text(json.dumps(counts, indent=1, sort_keys=True))


def render(counts: dict) -> str:
    """docs/reliability.md's sentence: every count of the last run, in a stable order, and its date."""
    items = "; ".join(f"{name} {value}" for name, value in sorted(counts.items()) if name not in (UPDATED, PARTS))
    return f"Counts from the last run: {items} (`make test`, {counts.get(UPDATED, 'never run')})."


def with_block(readme: str, counts: dict) -> str:
    """``readme`` with the text between the markers replaced by :func:`render`."""
    head, found, rest = readme.partition(BEGIN + "\n")
    if not found or END not in rest:
        raise SystemExit(f"docs/reliability.md has no block between {BEGIN!r} and {END!r}")
    return head + BEGIN + "\n" + render(counts) + "\n" + END + rest.split(END, 1)[1]


def main(argv: list[str]) -> int:
    if not FILE.exists():
        print(f"{FILE} does not exist: run make test first", file=sys.stderr)
        return 1
    text = DOCUMENT.read_text()
    wanted = with_block(text, json.loads(FILE.read_text()))
    if "--check" in argv:
        if wanted != text:
            print("docs/reliability.md's reliability counts differ from reports/reliability.json: "
                  "run python -m tests.reliability.counts", file=sys.stderr)
            return 1
        return 0
    DOCUMENT.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
