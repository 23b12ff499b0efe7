-- pgconverge catalog snapshot: everything a migration can create, as one JSON document.
-- Left out on purpose: ownership, ACLs, OIDs, the database name, schema_migrations itself,
-- objects that belong to extensions, Heroku's own schemas and the data copy's journal (pgconverge,
-- tasks/data/journal.py); so the same migrations give equal snapshots on a laptop and on Heroku.
WITH
ns AS (
    SELECT oid, nspname FROM pg_namespace
     WHERE nspname NOT IN ('pg_catalog', 'information_schema', '_heroku', 'heroku_ext', 'pg_toast', 'pgconverge')
       AND nspname NOT LIKE 'pg\_temp\_%' AND nspname NOT LIKE 'pg\_toast\_temp\_%'
),
ext_objects AS (
    SELECT objid FROM pg_depend WHERE deptype = 'e'
),
rels AS (
    SELECT c.oid, ns.nspname, c.relname, c.relkind, c.relpersistence
      FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
     WHERE c.oid NOT IN (SELECT objid FROM ext_objects)
       AND NOT (ns.nspname = 'public' AND c.relname IN ('schema_migrations', 'schema_migrations_pkey'))
)
SELECT json_build_object(
  'schemas', (SELECT coalesce(json_agg(nspname ORDER BY nspname), '[]') FROM ns
               WHERE oid NOT IN (SELECT objid FROM ext_objects)),
  'extensions', (SELECT coalesce(json_agg(extname ORDER BY extname), '[]') FROM pg_extension),
  'tables', (SELECT coalesce(json_object_agg(r.nspname || '.' || r.relname, json_build_object(
        'kind', CASE r.relkind WHEN 'p' THEN 'partitioned table' ELSE 'table' END,
        'unlogged', r.relpersistence = 'u',
        'partition_key', CASE WHEN r.relkind = 'p' THEN pg_get_partkeydef(r.oid) END,
        'partition_of', (SELECT pn.nspname || '.' || pc.relname FROM pg_inherits i
                           JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace
                          WHERE i.inhrelid = r.oid AND pc.relkind = 'p'),
        'partition_bound', CASE WHEN (SELECT relispartition FROM pg_class WHERE oid = r.oid)
                                THEN pg_get_expr((SELECT relpartbound FROM pg_class WHERE oid = r.oid), r.oid) END,
        'columns', (SELECT coalesce(json_object_agg(a.attname, json_build_object(
              'position', (SELECT count(*) FROM pg_attribute l WHERE l.attrelid = a.attrelid AND l.attnum > 0
                                  AND NOT l.attisdropped AND l.attnum <= a.attnum),  -- order among live columns
              'type', format_type(a.atttypid, a.atttypmod),
              'not_null', a.attnotnull,
              'default', CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END,
              'generated', CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) END,
              'identity', nullif(a.attidentity, ''),
              'collation', CASE WHEN a.attcollation <> t.typcollation
                                THEN (SELECT collname FROM pg_collation WHERE oid = a.attcollation) END
            ) ORDER BY a.attnum), '{}')
              FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
              LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped),
        'constraints', (SELECT coalesce(json_object_agg(co.conname, jsonb_build_object(
              'type', CASE co.contype WHEN 'p' THEN 'primary key' WHEN 'f' THEN 'foreign key'
                      WHEN 'u' THEN 'unique' WHEN 'c' THEN 'check' WHEN 'x' THEN 'exclusion' ELSE co.contype::text END,
              'definition', pg_get_constraintdef(co.oid, true),
              'deferrable', co.condeferrable,
              'validated', co.convalidated)
              -- a comment only when there is one (snapshots taken before it was read have none)
              || jsonb_strip_nulls(jsonb_build_object('comment', obj_description(co.oid, 'pg_constraint')))), '{}')
              FROM pg_constraint co WHERE co.conrelid = r.oid AND co.contype <> 'n'),
        -- row-level security, policies, rules, extended statistics, storage options: null when none
        'row_security', (SELECT CASE WHEN c.relrowsecurity OR c.relforcerowsecurity THEN json_build_object(
              'enabled', c.relrowsecurity, 'forced', c.relforcerowsecurity) END FROM pg_class c WHERE c.oid = r.oid),
        'policies', (SELECT json_object_agg(po.polname, json_build_object(
              'command', po.polcmd, 'permissive', po.polpermissive,
              'roles', (SELECT json_agg(CASE WHEN ro = 0 THEN 'public' ELSE (SELECT rolname FROM pg_roles
                                          WHERE oid = ro) END ORDER BY 1) FROM unnest(po.polroles) ro),
              'using', pg_get_expr(po.polqual, po.polrelid), 'check', pg_get_expr(po.polwithcheck, po.polrelid)))
              FROM pg_policy po WHERE po.polrelid = r.oid),
        'rules', (SELECT json_object_agg(ru.rulename, pg_get_ruledef(ru.oid, true))
              FROM pg_rewrite ru WHERE ru.ev_class = r.oid AND ru.rulename <> '_RETURN'),
        'statistics', (SELECT json_object_agg(sn.nspname || '.' || st.stxname, pg_get_statisticsobjdef(st.oid))
              FROM pg_statistic_ext st JOIN pg_namespace sn ON sn.oid = st.stxnamespace WHERE st.stxrelid = r.oid),
        'storage', (SELECT array_to_json(c.reloptions) FROM pg_class c WHERE c.oid = r.oid),
        'triggers', (SELECT coalesce(json_object_agg(tg.tgname, jsonb_build_object(
              'definition', pg_get_triggerdef(tg.oid, true),
              'enabled', tg.tgenabled <> 'D')
              -- ENABLE ALWAYS / ENABLE REPLICA, only when so (snapshots taken before it was read have none)
              || jsonb_strip_nulls(jsonb_build_object('fires', CASE tg.tgenabled WHEN 'A' THEN 'always'
                                                                                WHEN 'R' THEN 'replica' END))), '{}')
              FROM pg_trigger tg WHERE tg.tgrelid = r.oid AND NOT tg.tgisinternal)
      )), '{}') FROM rels r WHERE r.relkind IN ('r', 'p')),
  'indexes', (SELECT coalesce(json_object_agg(r.nspname || '.' || r.relname, jsonb_build_object(
        'table', (SELECT tn.nspname || '.' || tc.relname FROM pg_class tc JOIN pg_namespace tn ON tn.oid = tc.relnamespace
                   WHERE tc.oid = i.indrelid),
        'definition', regexp_replace(pg_get_indexdef(i.indexrelid), ' USING btree', ''),
        'valid', i.indisvalid,
        'constraint', EXISTS (SELECT 1 FROM pg_constraint co WHERE co.conindid = i.indexrelid AND co.conrelid = i.indrelid)
      )
      -- what pg_dump shows beside the definition, each only when set (snapshots taken before they were
      -- read have none): comment, per-column statistics targets, CLUSTER ON, tablespace, REPLICA
      -- IDENTITY USING INDEX, the partitioned index it is attached to (storage options: in the definition)
      || jsonb_strip_nulls(jsonb_build_object(
        'comment', obj_description(i.indexrelid, 'pg_class'),
        'statistics', (SELECT jsonb_object_agg(a.attnum, a.attstattarget) FROM pg_attribute a
                        WHERE a.attrelid = i.indexrelid AND coalesce(a.attstattarget, -1) >= 0),
        'clustered', CASE WHEN i.indisclustered THEN true END,
        'tablespace', (SELECT s.spcname FROM pg_class x JOIN pg_tablespace s ON s.oid = x.reltablespace
                        WHERE x.oid = i.indexrelid),
        'replica_identity', CASE WHEN i.indisreplident THEN true END,
        'attached_to', (SELECT pn.nspname || '.' || pc.relname FROM pg_inherits h JOIN pg_class pc ON pc.oid = h.inhparent
                          JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE h.inhrelid = i.indexrelid))
      )), '{}')
      FROM rels r JOIN pg_index i ON i.indexrelid = r.oid WHERE r.relkind IN ('i', 'I')),
  'views', (SELECT coalesce(json_object_agg(r.nspname || '.' || r.relname, json_build_object(
        'kind', CASE r.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END,
        'definition', pg_get_viewdef(r.oid, true))), '{}')
      FROM rels r WHERE r.relkind IN ('v', 'm')),
  'sequences', (SELECT coalesce(json_object_agg(r.nspname || '.' || r.relname, json_build_object(
        'type', format_type(s.seqtypid, NULL),
        'increment', s.seqincrement, 'min', s.seqmin, 'max', s.seqmax, 'cycle', s.seqcycle,
        'owned_by', (SELECT tn.nspname || '.' || tc.relname || '.' || a.attname
                       FROM pg_depend d JOIN pg_class tc ON tc.oid = d.refobjid
                       JOIN pg_namespace tn ON tn.oid = tc.relnamespace
                       JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                      WHERE d.objid = r.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                      LIMIT 1))), '{}')
      FROM rels r JOIN pg_sequence s ON s.seqrelid = r.oid WHERE r.relkind = 'S'),
  'functions', (SELECT coalesce(json_object_agg(n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
        json_build_object(
          'kind', CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' WHEN 'w' THEN 'window' ELSE 'function' END,
          'definition', CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) END)), '{}')
      FROM pg_proc p JOIN ns n ON n.oid = p.pronamespace
     WHERE p.oid NOT IN (SELECT objid FROM ext_objects)),
  'types', (SELECT coalesce(json_object_agg(n.nspname || '.' || t.typname, json_build_object(
        'kind', CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'd' THEN 'domain' WHEN 'c' THEN 'composite' WHEN 'r' THEN 'range' END,
        'labels', CASE WHEN t.typtype = 'e' THEN (SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder)
                                                  FROM pg_enum e WHERE e.enumtypid = t.oid) END,
        'base', CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END,
        'not_null', CASE WHEN t.typtype = 'd' THEN t.typnotnull END,
        'checks', CASE WHEN t.typtype = 'd' THEN (SELECT json_agg(pg_get_constraintdef(co.oid, true) ORDER BY co.conname)
                                                  FROM pg_constraint co WHERE co.contypid = t.oid AND co.contype = 'c') END,
        'attributes', CASE WHEN t.typtype = 'c' THEN (SELECT json_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                                                      ORDER BY a.attnum) FROM pg_attribute a
                                                      WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) END
      )), '{}')
      FROM pg_type t JOIN ns n ON n.oid = t.typnamespace
     WHERE (t.typtype IN ('e', 'd', 'r')
            OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
       AND t.oid NOT IN (SELECT objid FROM ext_objects))
)::text;
