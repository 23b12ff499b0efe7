-- pgconverge restore: one DROP statement per object the connected role owns in the database
-- (schemas, extensions, tables, views, sequences, routines, types), run with \gexec inside the
-- restore's transaction, so what was created after the backup is gone once the backup is back.
-- Left alone: objects of other roles, objects of extensions, Heroku's schemas, what goes with
-- its parent (partitions, indexes, identity and serial sequences, row and array types).
WITH
me AS (SELECT oid FROM pg_roles WHERE rolname = current_user),
ext AS (SELECT objid FROM pg_depend WHERE deptype = 'e'),
ns AS (
    SELECT oid, nspname, nspowner FROM pg_namespace
     WHERE nspname NOT IN ('pg_catalog', 'information_schema', '_heroku', 'heroku_ext', 'pg_toast')
       AND nspname NOT LIKE 'pg\_temp\_%' AND nspname NOT LIKE 'pg\_toast\_temp\_%'
)
SELECT statement FROM (
    SELECT 1 AS ord, format('DROP SCHEMA IF EXISTS %I CASCADE', nspname) AS statement
      FROM ns WHERE nspowner = (SELECT oid FROM me) AND nspname <> 'public' AND oid NOT IN (SELECT objid FROM ext)
    UNION ALL
    SELECT 2, format('DROP EXTENSION IF EXISTS %I CASCADE', extname)
      FROM pg_extension WHERE extowner = (SELECT oid FROM me)
    UNION ALL
    SELECT 3, format('DROP %s IF EXISTS %I.%I CASCADE',
                     CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
                                    WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, ns.nspname, c.relname)
      FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
     WHERE c.relowner = (SELECT oid FROM me) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
       AND NOT c.relispartition AND c.oid NOT IN (SELECT objid FROM ext)
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                          AND d.deptype IN ('a', 'i') AND c.relkind = 'S')
    UNION ALL
    SELECT 4, format('DROP ROUTINE IF EXISTS %I.%I(%s) CASCADE', ns.nspname, p.proname,
                     pg_get_function_identity_arguments(p.oid))
      FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
     WHERE p.proowner = (SELECT oid FROM me) AND p.oid NOT IN (SELECT objid FROM ext)
    UNION ALL
    SELECT 5, format('DROP %s IF EXISTS %I.%I CASCADE', CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END,
                     ns.nspname, t.typname)
      FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
     WHERE t.typowner = (SELECT oid FROM me) AND t.oid NOT IN (SELECT objid FROM ext)
       AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
) AS drops
ORDER BY ord, statement
