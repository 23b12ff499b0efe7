"""
Sequences after a copy: only ever moved forward.

A sequence is known by the value its next ``nextval()`` gives and its direction (the sign of its
increment). The copy moves a target sequence to the furthest of: where it is (the application may
have used it since the last run), where the source's is, and past the largest (or, descending,
smallest) value of the columns it fills (the one that owns it, or those whose default names it) in
the tables the source fills. It never moves one back, so the application's next INSERT cannot
collide with a row it or the seed wrote.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tasks.data import relations

if TYPE_CHECKING:
    import psycopg


@dataclass(frozen=True)
class SequenceState:
    next: int  # what the next nextval() gives
    increment: int
    min: int
    max: int


def ahead(value: int, than: int, increment: int) -> bool:
    """Pure: whether ``value`` is further than ``than`` along a sequence of this increment."""
    return value > than if increment > 0 else value < than


def wanted_next(current: SequenceState, needs: Iterable[int | None]) -> int | None:
    """Pure: the next value the target's sequence must give (the furthest of where it is and
    ``needs``), or None when it is already there: a sequence never goes back."""
    best = current.next
    for need in needs:
        if need is not None and ahead(need, best, current.increment):
            best = need
    return None if best == current.next else best


def setval_args(state: SequenceState, next_value: int) -> tuple[int, bool]:
    """Pure: the ``setval(value, is_called)`` after which nextval() gives ``next_value``: the value
    before it, called (as a sequence that was used reads), or, when that is outside the sequence's
    bounds (a sequence never used, at its start), ``next_value`` itself, not called."""
    last = next_value - state.increment
    if state.min <= last <= state.max:
        return last, True
    return next_value, False


def states(conn: psycopg.Connection) -> dict[str, SequenceState]:
    return {
        name: SequenceState(int(nxt), int(inc), int(low), int(high))
        for name, nxt, inc, low, high in conn.execute(relations.SEQUENCES_SQL).fetchall()
    }


def column_needs(
    dst: psycopg.Connection, loaded: set[str], tops: dict[str, str], target: dict[str, SequenceState]
) -> dict[str, int]:
    """For each sequence owned by (or named by the default of) a column of a table of ``loaded`` (the
    tables the source fills, copied by this run or an earlier one; or of the partitioned table above
    one): the next value past the furthest value of its columns in the target."""
    from psycopg import sql

    # the top of a tree is named as regclass prints it (``ev``, unqualified on the search_path): the
    # owners are compared as 'schema.table', like the owned sequences' tables
    named = (
        "SELECT format('%%I.%%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE c.oid = %s::regclass"
    )
    owners = set(loaded)
    for top in {tops[t] for t in loaded if tops.get(t)}:
        row = dst.execute(named, (top,)).fetchone()
        owners.add(row[0] if row else top)
    needs: dict[str, int] = {}
    for sequence, table, column in dst.execute(relations.COLUMN_SEQUENCES_SQL).fetchall():
        if table not in owners or sequence not in target:
            continue
        state = target[sequence]
        extreme = sql.SQL("max" if state.increment > 0 else "min")
        query = sql.SQL("SELECT {}({})::numeric FROM {}").format(extreme, sql.Identifier(column), sql.SQL(table))
        row = dst.execute(query).fetchone()
        value = row[0] if row else None
        if value is not None and (
            sequence not in needs or ahead(int(value) + state.increment, needs[sequence], state.increment)
        ):
            needs[sequence] = int(value) + state.increment  # the furthest of its columns (a shared one)
    return needs


def advance(src: psycopg.Connection, dst: psycopg.Connection, loaded: set[str], tops: dict[str, str]) -> int:
    """Move each target sequence forward to what the source and the loaded rows need; return how
    many moved. One that is already further (the application's) is left alone."""
    from psycopg import sql

    source, target = states(src), states(dst)
    columns = column_needs(dst, loaded, tops, target)
    moved = 0
    for name, state in sorted(target.items()):
        to = wanted_next(state, [source[name].next if name in source else None, columns.get(name)])
        if to is None:
            continue
        value, called = setval_args(state, to)
        dst.execute(sql.SQL("SELECT setval({}, %s, %s)").format(sql.Literal(name)), (value, called))
        moved += 1
    return moved
