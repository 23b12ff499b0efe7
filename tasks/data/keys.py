"""
What the loader sets aside around a table's load, inside the table's one transaction, and puts back
before COMMIT: foreign keys and plain indexes of a big table (built again in bulk, as pg_restore
does), the keys between the tables of one cycle, the keys of other tables that would refuse a
replaced table's DELETE, and the table's enabled user triggers (the rows arrive as they are in the
source: a data load, as ``pg_restore --disable-triggers``; ALTER TABLE is allowed to the owner).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

# A big table is loaded the way pg_restore loads one: its foreign keys and plain indexes are
# dropped, the rows copied, then the indexes built and the keys checked in bulk, all in the
# table's one transaction (so a failure or a kill leaves the table, keys and indexes as they were).
# Primary keys and unique indexes stay: other tables' foreign keys may rest on them (this is the path
# of a role that may not make the journal; with it, :mod:`tasks.data.journal` sets keys aside too).
BULK_FROM_BYTES = 8 << 20
DEFERRED_SQL = """
SELECT format('ALTER TABLE %%s DROP CONSTRAINT %%I', conrelid::regclass, conname),
       format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', conrelid::regclass, conname, pg_get_constraintdef(oid)), 2
  FROM pg_constraint WHERE conrelid = %(table)s::regclass AND contype = 'f' AND conparentid = 0
UNION ALL
SELECT format('DROP INDEX %%s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid), 1
  FROM pg_index i
 WHERE i.indrelid = %(table)s::regclass AND NOT i.indisunique AND NOT i.indisprimary
   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
   AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
"""
# Foreign keys between tables on one cycle (loaded together): dropped and added back around the load.
CYCLE_SQL = """
SELECT format('ALTER TABLE %%s DROP CONSTRAINT %%I', conrelid::regclass, conname),
       format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', conrelid::regclass, conname, pg_get_constraintdef(oid)), 2
  FROM pg_constraint
 WHERE conrelid = %(table)s::regclass AND contype = 'f' AND conparentid = 0 AND conrelid <> confrelid
   AND confrelid = ANY(%(group)s::regclass[])
"""
# When a table is replaced: the foreign keys of other tables that rest on it and would refuse its
# DELETE (NO ACTION, RESTRICT), dropped around the reload and added back (checked) before commit.
REFERENCING_SQL = """
SELECT format('ALTER TABLE %%s DROP CONSTRAINT %%I', conrelid::regclass, conname),
       format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', conrelid::regclass, conname, pg_get_constraintdef(oid)), 3
  FROM pg_constraint
 WHERE contype = 'f' AND conparentid = 0 AND confdeltype IN ('a', 'r') AND conrelid <> ALL(%(group)s::regclass[])
   AND (confrelid = %(table)s::regclass OR confrelid IN (SELECT relid FROM pg_partition_ancestors(%(table)s::regclass)))
"""
# The target table's enabled user triggers, each as the statements that disable it for the load and
# enable it again in its own mode.
TRIGGERS_SQL = """
SELECT format('ALTER TABLE %%s DISABLE TRIGGER %%I', tg.tgrelid::regclass, tg.tgname),
       format('ALTER TABLE %%s ENABLE %%s TRIGGER %%I', tg.tgrelid::regclass,
              CASE tg.tgenabled WHEN 'A' THEN 'ALWAYS' WHEN 'R' THEN 'REPLICA' ELSE '' END, tg.tgname)
  FROM pg_trigger tg
 WHERE tg.tgrelid = %s::regclass AND NOT tg.tgisinternal AND tg.tgenabled <> 'D'
 ORDER BY tg.tgname
"""


@dataclass
class SetAside:
    """The statements around one group's load: ``keys`` (drop, create, order) and ``triggers``
    (disable, enable)."""

    keys: list[tuple[str, str, int]] = field(default_factory=list)
    triggers: list[tuple[str, str]] = field(default_factory=list)

    def add(self, rows: list[tuple[str, str, int]]) -> None:
        self.keys += [row for row in rows if row not in self.keys]


def set_aside(
    dst: psycopg.Connection,
    group: tuple[str, ...],
    replace: bool,
    sizes: dict[str, int],
    reached: set[str] | None = None,
) -> SetAside:
    """Drop the keys and indexes and disable the triggers that stand in the load's way; return what
    :func:`put_back` restores. ``reached``: the tables a replace's DELETE cascades to, whose user
    triggers are off for the transaction too (the cascade is the load's, not the application's)."""
    found = SetAside()
    for table in group:
        if replace:
            found.add(dst.execute(REFERENCING_SQL, {"table": table, "group": list(group)}).fetchall())
        if sizes[table] >= BULK_FROM_BYTES:
            found.add(dst.execute(DEFERRED_SQL, {"table": table}).fetchall())
        if len(group) > 1:
            found.add(dst.execute(CYCLE_SQL, {"table": table, "group": list(group)}).fetchall())
    for drop, _, _ in found.keys:
        dst.execute(drop)
    tables = list(group) + sorted((reached or set()) - set(group))
    found.triggers = [row for table in tables for row in dst.execute(TRIGGERS_SQL, (table,)).fetchall()]
    for disable, _ in found.triggers:
        dst.execute(disable)
    return found


def put_back(dst: psycopg.Connection, aside: SetAside) -> None:
    """Check now what a DEFERRABLE INITIALLY DEFERRED key queued for COMMIT (ALTER TABLE refuses a
    table with pending trigger events), then enable the triggers and add the keys back (checked)."""
    dst.execute("SET CONSTRAINTS ALL IMMEDIATE")
    for _, enable in aside.triggers:
        dst.execute(enable)
    for _, create, _ in sorted(aside.keys, key=lambda row: row[2]):
        dst.execute(create)
