"""
The copy's schedule: ``jobs`` workers (:class:`tasks.data.loader.Worker`) take the next unit of work
whose referenced tables are in: a table (or the tables of a foreign-key cycle, or a replaced table
with the children its DELETE cascades to) in one transaction, or one range of a big table
(:mod:`tasks.data.ranged`), the table's whole check after its last range. A table whose rows the
target refuses, or meets a row the application wrote, is not copied on, nor are the tables resting on
it: the others go on, and each is named. Any other failure (the server, the link) stops the others
from starting and is raised.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from tasks.core.progress import Throughput
from tasks.data import cascades, ranged
from tasks.data.journal import Range
from tasks.data.loader import Source, Worker, fault, parallel, rows_refused, together
from tasks.data.order import load_groups
from tasks.data.tables import Catalog, CopyError, TableRefused


@dataclass(frozen=True)
class Unit:
    group: tuple[str, ...]
    replace: bool = False
    part: Range | None = None  # one range of a big table
    finish: bool = False  # a big table's whole check, after its ranges


def units(groups: list[tuple[str, ...]], replace: dict[str, bool], split: dict[str, list[Range]]) -> list[Unit]:
    """Pure: the work, in load order: a split table as its ranges not done yet, then its check."""
    found = []
    for group in groups:
        if len(group) == 1 and group[0] in split:
            found += [Unit(group, part=r) for r in split[group[0]] if not r.done] + [Unit(group, finish=True)]
        else:
            found.append(Unit(group, any(replace[t] for t in group)))
    return found


def load(
    source: Source,
    target_service: str,
    catalogs: tuple[Catalog, Catalog],
    work: list[tuple[str, bool]],
    jobs: int,
    log: Callable[[str], None],
    cascaded: list[cascades.Cascade] | None = None,
    split: dict[str, list[Range]] | None = None,
    progress: Throughput | None = None,
) -> list[CopyError]:
    """Copy ``work`` ((table, replace) pairs) with ``jobs`` workers, each table after the ones it
    references; the tables of ``split`` in their ranges, by every worker at once. Returns the tables
    refused once their rows were in (:class:`TableRefused`): the others went on."""
    references = catalogs[0].references
    groups = together(load_groups([t for t, _ in work], references), cascaded or [])
    pending = units(groups, dict(work), split or {})
    running: Counter[str] = Counter()
    failures: list[CopyError] = []
    refused: list[CopyError] = []
    stopped: set[str] = set()  # the tables refused for a row the application wrote: their ranges not copied on
    condition = threading.Condition()

    def blocked(unit: Unit) -> bool:
        refs = set().union(*(references.get(t, set()) for t in unit.group)) - set(unit.group)
        busy = {t for t, n in running.items() if n} | {t for u in pending for t in u.group}
        if refs & busy:
            return True
        return unit.finish and (
            running[unit.group[0]] > 0 or any(u.group == unit.group and u is not unit for u in pending)
        )

    def next_unit() -> Unit | None:
        with condition:
            while True:
                if failures or not pending:
                    return None
                for unit in pending:
                    if not blocked(unit):
                        pending.remove(unit)
                        running.update(unit.group)
                        return unit
                condition.wait()

    def run(worker: Worker, unit: Unit) -> None:
        if unit.part is not None:
            ranged.copy_range(worker, unit.part, log)
            return
        if unit.finish:
            ranged.finish(worker, unit.group[0], log)
        else:
            worker.copy(unit.group, unit.replace, log)
        for _ in unit.group:
            if progress:
                progress.table_done()

    def stop(group: tuple[str, ...], line: CopyError) -> None:
        """(Under ``condition``.) ``group`` is not copied whole in this run: its units left and those of
        every table resting on it by a foreign key are dropped (their keys would fail on its missing
        rows), each named; the other tables go on."""
        gone = set(group)
        while more := {t for t, refs in references.items() if refs & gone} - gone:
            gone |= more
        skipped = sorted({t for u in pending for t in u.group if t in gone} - set(group))
        pending[:] = [u for u in pending if not set(u.group) & gone]
        if group[0] not in stopped:
            stopped.add(group[0])
            refused.append(line)
        for table in skipped:
            stopped.add(table)
            refused.append(
                CopyError(
                    f"table {table}: not copied in this run: it references {group[0]}, which is not copied whole; "
                    "the run that copies that table copies it"
                )
            )

    def work_loop() -> None:
        worker = None
        try:
            while (unit := next_unit()) is not None:
                try:
                    worker = worker or Worker(source, target_service, catalogs, cascaded, progress)
                    run(worker, unit)
                except TableRefused as exc:  # its rows are as they are: the other tables go on
                    with condition:
                        refused.append(exc)
                except Exception as exc:  # noqa: BLE001  (every fault becomes one line naming the table)
                    written = (
                        ranged.written_meanwhile(worker.dst, unit.group, exc) if worker and not unit.replace else None
                    )
                    with condition:
                        if written is not None:  # its other ranges and its check are not done: a rerun goes on
                            stop(unit.group, written)
                        elif rows_refused(exc):  # the source's rows: the other tables go on
                            undone = "this range was rolled back (those verified before it stay)" if unit.part else None
                            stop(unit.group, fault(", ".join(unit.group), exc, *([undone] if undone else [])))
                        else:
                            failures.append(fault(", ".join(unit.group), exc))
                finally:
                    with condition:
                        running.subtract(unit.group)
                        condition.notify_all()
        finally:
            if worker:
                worker.close()

    parallel(min(jobs, len(pending)), work_loop)
    if failures:
        raise failures[0]
    return refused
