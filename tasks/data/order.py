"""
The order the copy loads tables in (pure): every table after those it references; the tables of a
foreign-key cycle together, as one group loaded in one transaction.
"""

from __future__ import annotations


def dependency_order(tables: list[str], references: dict[str, set[str]]) -> list[str]:
    """Pure: ``tables`` with every table after those it references; tables on a foreign-key cycle
    come together, after whatever the cycle references (in name order)."""
    done: list[str] = []
    pending = sorted(tables)

    def reach(table: str) -> set[str]:
        seen, todo = set(), [table]
        while todo:
            for ref in references.get(todo.pop(), set()) & set(pending):
                if ref not in seen:
                    seen.add(ref)
                    todo.append(ref)
        return seen

    while pending:
        ready = [t for t in pending if not (references.get(t, set()) - {t}) & set(pending)]
        if not ready:  # a cycle: the first table whose references all lead back to it
            ready = [next(t for t in pending if all(t in reach(r) for r in reach(t)))]
        for table in ready:
            done.append(table)
            pending.remove(table)
    return done


def load_groups(tables: list[str], references: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """Pure: ``tables`` in dependency order, the tables of a foreign-key cycle as one group (they are
    loaded in one transaction, the keys between them added back after the rows)."""
    order = dependency_order(tables, references)
    members = set(tables)

    def reach(table: str) -> set[str]:
        seen, todo = set(), [table]
        while todo:
            for ref in references.get(todo.pop(), set()) & members:
                if ref not in seen:
                    seen.add(ref)
                    todo.append(ref)
        return seen

    groups: list[tuple[str, ...]] = []
    placed: set[str] = set()
    for table in order:
        if table in placed:
            continue
        group = tuple(t for t in order if t == table or (t in reach(table) and table in reach(t)))
        placed.update(group)
        groups.append(group)
    return groups
