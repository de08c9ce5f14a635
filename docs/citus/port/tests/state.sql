-- Check (b) helper: a fingerprint of everything distribute.sql touches, one line per kind,
-- on the node it runs on (superuser). Run before and after a second distribute.sql; the
-- outputs must be equal. psql -X -At -f state.sql
SELECT 'policies ' || count(*) || ' ' || md5(string_agg(polrelid::regclass || '|' || polname || '|' || polcmd::text || '|'
           || polpermissive || '|' || polroles::regrole[]::text || '|' || coalesce(pg_get_expr(polqual, polrelid), '')
           || '|' || coalesce(pg_get_expr(polwithcheck, polrelid), ''), E'\n' ORDER BY polrelid::regclass::text, polname))
  FROM pg_policy;
SELECT 'functions ' || count(*) || ' ' || md5(string_agg(pg_get_functiondef(p.oid) || coalesce(p.proacl::text, '')
           || p.proowner::regrole::text, E'\n' ORDER BY p.oid::regprocedure::text))
  FROM pg_proc p WHERE p.pronamespace IN ('enclave'::regnamespace, 'public'::regnamespace, 'agency'::regnamespace)
   AND p.prokind IN ('f', 'p');
SELECT 'triggers ' || count(*) || ' ' || md5(string_agg(pg_get_triggerdef(t.oid) || '|' || t.tgenabled::text, E'\n'
           ORDER BY t.tgrelid::regclass::text, t.tgname))
  FROM pg_trigger t WHERE NOT t.tgisinternal;
SELECT 'constraints ' || count(*) || ' ' || md5(string_agg(c.conrelid::regclass || '|' || c.conname || '|'
           || pg_get_constraintdef(c.oid), E'\n' ORDER BY c.conrelid::regclass::text, c.conname))
  FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
 WHERE n.nspname IN ('public', 'agency', 'enclave', 'underway', 'tower_sessions');
SELECT 'relations ' || count(*) || ' ' || md5(string_agg(c.oid::regclass || '|' || c.relkind::text || '|'
           || c.relrowsecurity || '|' || c.relforcerowsecurity || '|' || coalesce(c.relacl::text, ''), E'\n'
           ORDER BY c.oid::regclass::text))
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname IN ('public', 'agency', 'enclave', 'underway', 'tower_sessions') AND c.relkind IN ('r', 'p', 'v');
SELECT 'dist_partition ' || count(*) || ' ' || md5(string_agg(logicalrelid::regclass || '|' || partmethod::text || '|'
           || colocationid || '|' || repmodel::text, E'\n' ORDER BY logicalrelid::regclass::text))
  FROM pg_dist_partition;
SELECT 'dist_shards ' || count(*) || ' ' || md5(string_agg(s.shardid || '|' || s.logicalrelid::regclass || '|'
           || coalesce(s.shardminvalue, '') || '|' || p.groupid, E'\n' ORDER BY s.shardid, p.groupid))
  FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid);
SELECT 'dist_objects ' || count(*) FROM pg_dist_object;
SELECT 'database_settings ' || coalesce(string_agg(array_to_string(setconfig, ','), ';' ORDER BY setrole), '')
  FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = current_database();
SELECT 'assign_distributed_transaction_id acl ' || coalesce(proacl::text, 'default')
  FROM pg_proc WHERE proname = 'assign_distributed_transaction_id';
-- Coordinator only (psql -v coordinator=1): rows of every Citus table and the definer registry.
\if :{?coordinator}
SELECT 'rows ' || string_agg(logicalrelid::regclass || '=' || (xpath('/row/n/text()',
           query_to_xml(format('SELECT count(*) AS n FROM %s', logicalrelid::regclass), false, true, '')))[1]::text,
           ' ' ORDER BY logicalrelid::regclass::text)
  FROM pg_dist_partition;
SELECT 'definer_registry ' || count(*) || ' ' || md5(string_agg(function || '|' || path, ',' ORDER BY function))
  FROM enclave.definer_registry;
\endif
