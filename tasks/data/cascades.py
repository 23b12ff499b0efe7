"""
What a replace removes besides the replaced table's own rows: ``COPY_CONFLICT=replace`` deletes a
table's rows and reloads them, and PostgreSQL carries the DELETE on through every foreign key with
``ON DELETE CASCADE`` (rows removed), ``SET NULL`` or ``SET DEFAULT`` (rows changed), transitively.

:func:`follow` (pure) walks those keys from the replaced tables. A child table whose rows the source
holds too (equal, not empty there) is reloaded from the source after the cascade, and counted in the
plan; any other child's rows would be lost: the copy refuses, naming the table and the count, before
any backup or change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

ACTIONS = {"c": "ON DELETE CASCADE", "n": "ON DELETE SET NULL", "d": "ON DELETE SET DEFAULT"}

# Foreign keys that act on a DELETE of the rows they reference, between tables that hold rows (a
# partitioned table on either side stood for by its leaves): child, parent, key, action, and the
# condition under which a child row references a row of that parent (of that leaf, not of another
# partition of the referenced table).
CASCADES_SQL = """
WITH leaves(top, leaf) AS (
    SELECT c.oid, t.relid FROM pg_class c, pg_partition_tree(c.oid) t WHERE c.relkind = 'p' AND t.isleaf
    UNION ALL
    SELECT c.oid, c.oid FROM pg_class c WHERE c.relkind = 'r'
)
SELECT format('%I.%I', an.nspname, ac.relname), format('%I.%I', bn.nspname, bc.relname), f.conname::text,
       f.confdeltype::text,
       format('EXISTS (SELECT FROM ONLY %I.%I p WHERE %s)', bn.nspname, bc.relname,
              (SELECT string_agg(format('p.%I = %I.%I.%I', pk.attname, an.nspname, ac.relname, k.attname), ' AND ')
                 FROM unnest(f.conkey, f.confkey) u(ck, pkn)
                 JOIN pg_attribute k ON k.attrelid = f.conrelid AND k.attnum = u.ck
                 JOIN pg_attribute pk ON pk.attrelid = f.confrelid AND pk.attnum = u.pkn))
  FROM pg_constraint f
  JOIN leaves a ON a.top = f.conrelid JOIN pg_class ac ON ac.oid = a.leaf
  JOIN pg_namespace an ON an.oid = ac.relnamespace
  JOIN leaves b ON b.top = f.confrelid JOIN pg_class bc ON bc.oid = b.leaf
  JOIN pg_namespace bn ON bn.oid = bc.relnamespace
 WHERE f.contype = 'f' AND f.conparentid = 0 AND f.confdeltype IN ('c', 'n', 'd')
 ORDER BY 1, 3, 2
"""

# For the plan's script (psql): one statement per key, counting the child rows that reference.
COUNTS_SQL = f"""
SELECT 'gexec', format('SELECT %L, %L, %L, %L, %L, count(*)::text FROM ONLY %s WHERE %s',
                       'cascade', child, parent, key, action, child, cond)
  FROM ({CASCADES_SQL}) x(child, parent, key, action, cond)
"""


def ident(name: str) -> str:
    """Pure: a name as SQL would need it written (``"Chi ld_Pid_fkey"`` quoted, ``child_fkey`` not)."""
    import re

    return name if re.fullmatch(r"[a-z_][a-z0-9_$]*", name) else '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Cascade:
    child: str
    parent: str
    key: str  # the foreign key's name
    action: str  # 'c', 'n' or 'd' (pg_constraint.confdeltype)
    rows: int  # the child's rows in the target that reference any parent row

    def describe(self) -> str:
        verb = "removes" if self.action == "c" else "changes"
        return f"{verb} {self.rows:,} row(s) of {self.child} through its {ACTIONS[self.action]} key {ident(self.key)}"


def follow(replaced: list[str], cascades: list[Cascade], reloadable: set[str]) -> tuple[list[Cascade], list[Cascade]]:
    """Pure: the keys a replace of ``replaced`` acts through, transitively, as (reloaded, lost): a
    child in ``reloadable`` (its rows equal to the source's, not empty there) is reloaded from the
    source, and its own cascades followed; any other child's rows are lost."""
    affected, frontier = set(replaced), list(replaced)
    reloaded: list[Cascade] = []
    lost: list[Cascade] = []
    while frontier:
        table = frontier.pop(0)
        for cascade in cascades:
            if cascade.parent != table or not cascade.rows or cascade.child in affected:
                continue
            if cascade.child in reloadable:
                reloaded.append(cascade)
                affected.add(cascade.child)
                frontier.append(cascade.child)
            elif cascade not in lost:
                lost.append(cascade)
    return reloaded, lost


def refusal(lost: list[Cascade], done: str = "nothing was changed") -> str | None:
    """Pure: the one line refusing a replace that would lose rows the source does not have."""
    if not lost:
        return None
    first = lost[0]
    more = f" (and {len(lost) - 1} more table(s) so)" if len(lost) > 1 else ""
    return (
        f"COPY_CONFLICT=replace of {first.parent} {first.describe()}, rows that "
        f"are not in the source{more}: {done}; bring those rows into the source first, or remove "
        f"them from {first.child} yourself if they may go"
    )


def read(conn: psycopg.Connection) -> list[Cascade]:
    """The target's cascading keys with the child rows each would act on (psycopg)."""
    from psycopg import sql

    found = []
    for child, parent, key, action, cond in conn.execute(CASCADES_SQL).fetchall():
        query = sql.SQL("SELECT count(*) FROM ONLY {} WHERE {}").format(sql.SQL(child), sql.SQL(cond))
        row = conn.execute(query).fetchone()
        found.append(Cascade(child, parent, key, action, int(row[0]) if row else 0))
    return found


def reached(replaced: list[str], cascades: list[Cascade]) -> set[str]:
    """Pure: every table a DELETE of ``replaced`` reaches through the cascading keys, whatever their
    rows now (those with none may have some by the time the DELETE runs), the replaced ones included."""
    seen, frontier = set(replaced), list(replaced)
    while frontier:
        table = frontier.pop()
        for cascade in cascades:
            if cascade.parent == table and cascade.child not in seen:
                seen.add(cascade.child)
                frontier.append(cascade.child)
    return seen


# The tables among %s (formatted names) that have a DELETE rule: a rule rewrites the replace's DELETE
# (and a cascade's) into statements of its own, on other tables.
DELETE_RULES_SQL = """
SELECT DISTINCT format('%%I.%%I', n.nspname, c.relname), r.rulename::text
  FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE r.ev_type = '4' AND format('%%I.%%I', n.nspname, c.relname) = ANY(%s)
 ORDER BY 1, 2
"""


def rules_refusal(rules: list[tuple[str, str]], replaced: list[str]) -> str | None:
    """Pure: the one line refusing a replace whose DELETE (or its cascade) meets DELETE rules."""
    if not rules:
        return None
    named = ", ".join(f"{ident(rule)} on {table}" for table, rule in rules)
    return (
        f"COPY_CONFLICT=replace of {', '.join(replaced)} would fire DELETE rule(s) {named}: a rule writes to "
        "other tables, rows the copy cannot bring back: nothing was changed; drop or disable the rule in a "
        "migration (or replace those rows yourself)"
    )


def locked_recount(conn: psycopg.Connection, tables: list[str]) -> tuple[list[Cascade], list[tuple[str, str]]]:
    """Inside the replace's transaction: lock ``tables`` and every table their DELETE reaches through
    the cascading keys (SHARE ROW EXCLUSIVE: the application reads on, its writes wait for COMMIT; the
    wait bounded by the caller's ``lock_timeout``), then count the child rows each key acts on now, and
    read the DELETE rules of every table reached (psycopg)."""
    from psycopg import sql

    rows = conn.execute(CASCADES_SQL).fetchall()
    keys = {Cascade(child, parent, key, action, 0): cond for child, parent, key, action, cond in rows}
    tree = reached(tables, list(keys))
    conn.execute(
        sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(
            sql.SQL(", ").join(sql.SQL(t) for t in sorted(tree))
        )
    )
    found = []
    for cascade, cond in keys.items():
        if cascade.parent not in tree:
            continue
        query = sql.SQL("SELECT count(*) FROM ONLY {} WHERE {}").format(sql.SQL(cascade.child), sql.SQL(cond))
        row = conn.execute(query).fetchone()
        found.append(Cascade(cascade.child, cascade.parent, cascade.key, cascade.action, int(row[0]) if row else 0))
    rules = [(t, r) for t, r in conn.execute(DELETE_RULES_SQL, (sorted(tree),)).fetchall()]
    return found, rules


def recount_refusal(roots: list[str], found: list[Cascade], planned: list[Cascade], group: set[str]) -> str | None:
    """Pure: why the replace's transaction stops after its recount under lock (:func:`locked_recount`):
    a child whose rows the cascade would now remove or change that is not reloaded from the source in
    this transaction, or a count other than the plan's (the application wrote meanwhile)."""
    reloaded, lost = follow(roots, found, group)
    if lost:
        return refusal(lost, done="rolled back, nothing of it was changed")
    counted = {(c.child, c.parent, c.key): c.rows for c in planned}
    for cascade in reloaded:
        if counted.get((cascade.child, cascade.parent, cascade.key)) != cascade.rows:
            return (
                f"COPY_CONFLICT=replace of {cascade.parent} {cascade.describe()} now, "
                f"{counted.get((cascade.child, cascade.parent, cascade.key), 0):,} when planned (the application "
                f"wrote to {cascade.child} meanwhile): rolled back, nothing of it was changed; run again to see "
                "the plan with those rows"
            )
    return None
