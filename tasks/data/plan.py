"""
The copy's plan as the deploy shows it (pure): from both sides (:mod:`tasks.data.sides`), the tables
to copy or replace (and the children a replace reloads), the materialized views to refresh and the
sequences to move forward; how many tables load at once; the dry run's lines. Its refusals are in
:mod:`tasks.data.refusals`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tasks.data import cascades
from tasks.data.sequences import ahead
from tasks.data.sides import Relation, Side


@dataclass
class Pending:
    copy: list[str] = field(default_factory=list)
    replace: list[str] = field(default_factory=list)
    conflicts: list[tuple[Relation, Relation]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    views: list[str] = field(default_factory=list)
    sequences: list[tuple[str, int]] = field(default_factory=list)  # (name, next value)
    in_sync: int = 0
    set_aside: int = 0  # indexes, keys and triggers an interrupted copy has still to put back
    cascaded: list[cascades.Cascade] = field(default_factory=list)  # children a replace acts on: reloaded
    lost: list[cascades.Cascade] = field(default_factory=list)  # children whose rows a replace would lose

    @property
    def anything(self) -> bool:
        return bool(self.copy or self.replace or self.missing or self.views or self.sequences or self.set_aside)


def need_checksums(target: Side) -> list[str]:
    """The source tables whose checksum decides the plan: those not empty in the target."""
    return sorted(name for name, relation in target.tables.items() if relation.rows and name not in target.resuming)


def pending(source: Side, target: Side, replace: bool) -> Pending:
    """Pure: what the copy will write (the same rules as :func:`tasks.data.copy.compare`)."""
    todo = Pending(set_aside=target.set_aside)
    for name, want in sorted(source.tables.items()):
        have = target.tables.get(name)
        if want.rows == 0 and name not in target.resuming:
            todo.in_sync += 1
        elif have is None:
            todo.missing.append(name)
        elif have.rows == 0 or name in target.resuming:
            todo.copy.append(name)
        elif (have.rows, have.checksum) == (want.rows, want.checksum):
            todo.in_sync += 1
        elif replace:
            todo.replace.append(name)
        else:
            todo.conflicts.append((want, have))
    if todo.replace:
        reloadable = {
            name
            for name, want in source.tables.items()
            if want.rows
            and name in target.tables
            and (target.tables[name].rows, target.tables[name].checksum) == (want.rows, want.checksum)
        }
        todo.cascaded, todo.lost = cascades.follow(todo.replace, target.cascades, reloadable)
        todo.replace += [c.child for c in todo.cascaded]
        todo.in_sync -= len(todo.cascaded)
    rows_to_write = bool(todo.copy or todo.replace or todo.missing)
    for name, want in source.views.items():
        have = target.views.get(name)
        # derived rows: refreshed after the tables change, or when unpopulated or of another size;
        # one the target lacks yet is listed too when rows are written (the migrations create it)
        if (name in target.views or name in target.unpopulated_views or rows_to_write) and (
            rows_to_write or have is None or have.rows != want.rows
        ):
            todo.views.append(name)
    for name, (value, increment) in sorted(source.sequences.items()):
        # the value that will be set: the source's next, or past the copied rows of the owning column
        largest, smallest = source.sequence_columns.get(name, (None, None))
        extreme = largest if increment > 0 else smallest
        if extreme is not None and ahead(extreme + increment, value, increment):
            value = extreme + increment
        # only forward: a target sequence already further (the application's) is left alone
        if name not in target.sequences or ahead(value, *target.sequences[name]):
            todo.sequences.append((name, value))
    return todo


CONNECTION_RESERVE = 3  # left free for the app, an operator's psql and the deploy's own checks


def capped_jobs(jobs: int, free: int, reserve: int = CONNECTION_RESERVE) -> int:
    """Pure: the tables loaded at once: ``COPY_JOBS``, at most the target's free connections less a
    reserve (each job holds one target connection), at least one."""
    return max(1, min(jobs, free - reserve))


def plan_lines(source: Side, target: Side, todo: Pending) -> list[str]:
    """What the dry run shows: tables with row counts, partitions and children under their parent."""
    lines = []
    groups: dict[str, list[str]] = {}
    for name in todo.copy + todo.missing:
        groups.setdefault(source.tables[name].parent or name, []).append(name)
    for top, members in sorted(groups.items()):
        rows = sum(source.tables[m].rows for m in members)
        if members == [top]:
            lines.append(f"copy {rows:,} rows into {top}")
            continue
        lines.append(f"copy {rows:,} rows into {top} ({len(members)} partition(s) or child table(s)):")
        lines += [f"  {m}: {source.tables[m].rows:,} rows" for m in members]
    cascaded = {c.child: c for c in todo.cascaded}
    lines += [
        f"replace {t}: {target.tables[t].rows:,} rows there, {source.tables[t].rows:,} in the source"
        for t in todo.replace
        if t not in cascaded
    ]
    lines += [
        f"replacing {c.parent} {c.describe()}: reloaded from the source ({source.tables[c.child].rows:,} rows)"
        for c in todo.cascaded
    ]
    lines += [f"refresh materialized view {view}" for view in todo.views]
    if todo.set_aside:
        lines.append(f"put back {todo.set_aside} index(es), key(s) and trigger(s) an interrupted copy set aside")
    lines += [
        f"move sequence {name} forward to the source's (next value {value:,})"
        if value == source.sequences[name][0]
        else f"move sequence {name} forward past the copied rows (next value {value:,})"
        for name, value in todo.sequences
    ]
    return lines
