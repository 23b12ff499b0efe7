"""
Setting names one edit apart (pure): a key of the environment or ENV_FILE that is almost a setting's
name (``DATA_MIGRATON``, ``data_migration``) stops the run, naming both.
"""

from __future__ import annotations


def one_edit_apart(a: str, b: str) -> bool:
    """``a`` and ``b`` differ by one inserted, deleted or replaced letter, or two neighbours swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
        return len(diff) == 1 or (
            len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
        )
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def misspelt(keys: list[str], known: set[str]) -> tuple[str, str] | None:
    """The first key (of the environment or ENV_FILE) one edit away from a setting's name, and that name."""
    for key in keys:
        if key in known:
            continue
        close = sorted(name for name in known if key.upper() == name or one_edit_apart(key.upper(), name))
        if close:
            return key, close[0]
    return None
