"""
What the copy reads from a database's catalog: the relations that hold rows, their columns, the
foreign keys between them, the materialized views, sequences and large objects. SQL only, shared by
the copy engine (psycopg) and the plan's fact (psql); the checksum itself is in
:mod:`tasks.data.checksum`.

Rows live in relations with storage: plain tables, leaf partitions at any depth (default
partitions included) and inheritance parents and children. Each is read ``FROM ONLY`` itself, so a
row is copied and counted once, whatever tree it sits in; a partitioned parent holds no rows.
"""

from __future__ import annotations

# The database's own schemas: not the catalogs, not Heroku's, not another session's temp schema, not
# the copy's journal (tasks/data/journal.py).
USER_SCHEMA = """n.nspname NOT IN ('pg_catalog', 'information_schema', '_heroku', 'heroku_ext', 'pgconverge')
       AND n.nspname NOT LIKE 'pg\\_%'"""
NOT_OURS = """NOT (n.nspname = 'public' AND c.relname = 'schema_migrations')
       AND c.oid NOT IN (SELECT objid FROM pg_depend WHERE classid = 'pg_class'::regclass AND deptype = 'e')"""

# Tables that hold rows (relkind 'r': plain, partition, inheritance parent or child), each with the
# top of the tree it belongs to ('' for a table on its own): name, oid, parent.
TABLES_SQL = f"""
WITH RECURSIVE up(child, top) AS (
    SELECT inhrelid, inhparent FROM pg_inherits
    UNION
    SELECT up.child, i.inhparent FROM up JOIN pg_inherits i ON i.inhrelid = up.top
)
SELECT format('%I.%I', n.nspname, c.relname), c.oid::int8,
       coalesce((SELECT up.top::regclass::text FROM up WHERE up.child = c.oid
                    AND up.top NOT IN (SELECT inhrelid FROM pg_inherits) LIMIT 1), '')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND c.relpersistence <> 't' AND {USER_SCHEMA}
   AND {NOT_OURS}
 ORDER BY 1
"""

# Foreign keys between tables that hold rows: (referencing oid, referenced oid), with a partitioned
# table on either side stood for by its leaf partitions.
FOREIGN_KEYS_SQL = """
WITH leaves(top, leaf) AS (
    SELECT c.oid, t.relid FROM pg_class c, pg_partition_tree(c.oid) t WHERE c.relkind = 'p' AND t.isleaf
    UNION ALL
    SELECT c.oid, c.oid FROM pg_class c WHERE c.relkind = 'r'
)
SELECT DISTINCT a.leaf::int8, b.leaf::int8
  FROM pg_constraint f
  JOIN leaves a ON a.top = f.conrelid
  JOIN leaves b ON b.top = f.confrelid
 WHERE f.contype = 'f' AND f.conparentid = 0 AND a.leaf <> b.leaf
"""

# The columns the copy writes (generated columns are left to the target), by name.
COLUMNS_SQL = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
 WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
 ORDER BY a.attnum
"""

# Every written column of every table that holds rows, with its type as SQL spells it (name, column,
# type): the plan compares them by name before anything changes.
COLUMN_TYPES_SQL = f"""
SELECT t.name, a.attname, format_type(a.atttypid, a.atttypmod)
  FROM ({TABLES_SQL}) t(name, oid, parent)
  JOIN pg_attribute a ON a.attrelid = t.oid::oid
 WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
 ORDER BY 1, a.attnum
"""

# Materialized views, in creation order (a view built on another comes after it): name, populated.
MATVIEWS_SQL = f"""
SELECT format('%I.%I', n.nspname, c.relname), c.relispopulated
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'm' AND {USER_SCHEMA} AND {NOT_OURS}
 ORDER BY c.oid
"""

# Sequences with their state, whatever their direction: name, the value the next nextval() would
# give (read from the sequence itself: pg_sequences hides a value set with is_called false), increment,
# min and max. numeric: a sequence at its maximum has a next value past bigint.
SEQUENCES_SQL = """
SELECT format('%I.%I', s.schemaname, s.sequencename),
       CASE WHEN x.called THEN x.last + s.increment_by ELSE x.last END, s.increment_by, s.min_value, s.max_value
  FROM pg_sequences s,
       LATERAL (SELECT (xpath('/row/l/text()', q))[1]::text::numeric AS last,
                       (xpath('/row/c/text()', q))[1]::text::boolean AS called
                  FROM query_to_xml(format('SELECT last_value AS l, is_called AS c FROM %I.%I',
                                           s.schemaname, s.sequencename), false, true, '') q) x
 WHERE s.schemaname NOT IN ('_heroku', 'heroku_ext') ORDER BY 1
"""

# The sequences a column's values come from: owned by it (serial, identity), or named by its default
# (``DEFAULT nextval('shared')`` on an integer column, a sequence two tables share, owned by neither):
# sequence, table, column; a sequence of several columns is listed once for each.
COLUMN_SEQUENCES_SQL = """
SELECT format('%I.%I', sn.nspname, sc.relname), format('%I.%I', tn.nspname, tc.relname), a.attname
  FROM pg_depend d
  JOIN pg_class sc ON sc.oid = d.objid AND sc.relkind = 'S' JOIN pg_namespace sn ON sn.oid = sc.relnamespace
  JOIN pg_class tc ON tc.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = tc.relnamespace
  JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
 WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
UNION
SELECT format('%I.%I', sn.nspname, sc.relname), format('%I.%I', tn.nspname, tc.relname), a.attname
  FROM pg_depend d JOIN pg_attrdef ad ON ad.oid = d.objid
  JOIN pg_class sc ON sc.oid = d.refobjid AND sc.relkind = 'S' JOIN pg_namespace sn ON sn.oid = sc.relnamespace
  JOIN pg_class tc ON tc.oid = ad.adrelid AND tc.relkind IN ('r', 'p')
  JOIN pg_namespace tn ON tn.oid = tc.relnamespace
  JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
 WHERE d.classid = 'pg_attrdef'::regclass AND d.refclassid = 'pg_class'::regclass
   AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'numeric'::regtype)
   AND pg_get_expr(ad.adbin, ad.adrelid) LIKE 'nextval(%'
"""

# Tables under FORCE ROW LEVEL SECURITY that the connected role is not exempt from (no BYPASSRLS,
# not a superuser): their owner's COPY into them fails, its reads (the copy's, pg_dump's) see only
# what the policies let through.
FORCE_RLS_SQL = f"""
SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND c.relrowsecurity AND c.relforcerowsecurity AND {USER_SCHEMA}
   AND NOT (SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = current_user)
 ORDER BY 1
"""

# Large objects live outside every table: their count and the first few oids, to name them.
LARGE_OBJECTS_SQL = """
SELECT count(*), coalesce(string_agg(oid::text, ', ' ORDER BY oid) FILTER (WHERE rank <= 5), '')
  FROM (SELECT oid, row_number() OVER (ORDER BY oid) AS rank FROM pg_largeobject_metadata) lo
"""

# Connections this role can still open in this database: the server's limit (less the superusers'
# reserve), the database's and the role's, less the sessions already counted against each.
FREE_CONNECTIONS_SQL = """
SELECT least(
    current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int
        - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
    CASE WHEN d.datconnlimit >= 0 THEN d.datconnlimit
        - (SELECT count(*) FROM pg_stat_activity WHERE datid = d.oid AND backend_type = 'client backend') END,
    CASE WHEN r.rolconnlimit >= 0 THEN r.rolconnlimit
        - (SELECT count(*) FROM pg_stat_activity WHERE usename = current_user AND backend_type = 'client backend') END)
  FROM pg_database d, pg_roles r WHERE d.datname = current_database() AND r.rolname = current_user
"""
