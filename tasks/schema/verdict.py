"""
The schema check's verdict, pure: the target's catalog against the expected schema (and, when asked,
against the source's), the differences ALLOW_EXTRA_OBJECTS tolerates (reported, not failed) and the
ones that fail the state, rendered as the diff the user reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tasks.schema import catalog

MAX_DIFF_LINES = 40
EXPECTED = "the target schema differs from what the migrations describe"
SOURCE = "the target schema differs from the source database"
EXTRAS_HINT = "\n  (objects added by hand: remove them, or set ALLOW_EXTRA_OBJECTS=true)"


def render(title: str, found: list[catalog.Difference]) -> str:
    """A titled diff: at most :data:`MAX_DIFF_LINES` lines, ``-`` missing, ``+`` extra, ``~`` changed."""
    shown = [d.text for d in found[:MAX_DIFF_LINES]]
    more = f"\n  … and {len(found) - len(shown)} more" if len(found) > len(shown) else ""
    return f"{title} ({len(found)} difference(s), - missing, + extra, ~ changed):\n  " + "\n  ".join(shown) + more


@dataclass(frozen=True)
class Verdict:
    """``tolerated``: the diffs to log (objects added by hand, allowed); ``failures``: the diffs that fail
    the state; ``drifted``: the target differs from the expected schema (a repair can be proposed)."""

    tolerated: list[str]
    failures: list[str]
    drifted: bool
    allow_extra_objects: bool
    explained: int = 0  # differences an interrupted data copy explains (set aside: it puts them back)

    def message(self, pointer: str | None = None, repair_line: str | None = None) -> str:
        """The refusal: the drift's pointer to its repair first when there is one, then the diffs, then
        the ways forward."""
        failures = list(self.failures)
        if pointer:
            failures[0] = f"drift: {pointer}\n" + failures[0]
        hint = "" if self.allow_extra_objects else EXTRAS_HINT
        return "\n".join(failures) + (f"\n  {repair_line}" if repair_line else "") + hint


def judge(
    wanted: dict[str, Any],
    actual: dict[str, Any],
    source: dict[str, Any] | None,
    allow_extra_objects: bool,
    aside: frozenset[str] = frozenset(),
) -> Verdict:
    """Compare ``actual`` with ``wanted`` and, when given, with ``source``; what an interrupted data copy
    set aside (``aside``: :func:`tasks.schema.catalog.set_aside_names`) is explained, not drift."""
    comparisons = [(EXPECTED, catalog.differences(wanted, actual))]
    if source is not None:
        comparisons.append((SOURCE, catalog.differences(source, actual)))
    explained = {d for _, found in comparisons for d in catalog.set_aside(found, aside)}
    comparisons = [(title, [d for d in found if d not in explained]) for title, found in comparisons]
    drift = comparisons[0][1]
    tolerated, failures = [], []
    for title, found in comparisons:
        extra = [d for d in found if allow_extra_objects and d.sign == "+"]
        blocking = [d for d in found if d not in extra]
        if extra:
            tolerated.append(render(f"{title}, allowed by ALLOW_EXTRA_OBJECTS", extra))
        if blocking:
            failures.append(render(title, blocking))
    return Verdict(tolerated, failures, bool(drift), allow_extra_objects, len(explained))
