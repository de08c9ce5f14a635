-- Inventory of Enclave's tables after migrations (run as postgres in db enclave).
\pset pager off
\echo '== tables: tenant (has org_id) / global (comment enclave:global) / other'
SELECT c.oid::regclass AS tbl,
       EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid=c.oid AND a.attname='org_id' AND NOT a.attisdropped) AS has_org_id,
       split_part(coalesce(obj_description(c.oid,'pg_class'),''),' ',1) AS tag,
       c.relrowsecurity AS rls, c.relforcerowsecurity AS force,
       (SELECT count(*) FROM pg_policy p WHERE p.polrelid=c.oid) AS policies,
       (SELECT count(*) FROM pg_trigger t WHERE t.tgrelid=c.oid AND NOT t.tgisinternal) AS triggers
  FROM pg_class c JOIN pg_namespace n ON n.oid=c.relnamespace
 WHERE c.relkind IN ('r','p') AND n.nspname IN ('public','agency','enclave','underway','tower_sessions')
 ORDER BY 2 DESC, 3, 1::text;
\echo '== policies'
SELECT schemaname||'.'||tablename AS tbl, policyname, cmd, roles, qual, with_check FROM pg_policies
 WHERE schemaname IN ('public','agency','enclave','underway','tower_sessions') ORDER BY 1,2;
\echo '== triggers'
SELECT tgrelid::regclass AS tbl, tgname, tgfoid::regproc AS fn, pg_get_triggerdef(t.oid) FROM pg_trigger t
 WHERE NOT tgisinternal ORDER BY 1::text,2;
\echo '== foreign keys'
SELECT conrelid::regclass AS tbl, conname, confrelid::regclass AS ref, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE contype='f' ORDER BY 1::text,2;
\echo '== primary keys / unique constraints / unique indexes'
SELECT i.indrelid::regclass AS tbl, i.indexrelid::regclass AS idx, i.indisprimary AS pk,
       EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid=i.indrelid AND a.attname='org_id' AND a.attnum = ANY(i.indkey)) AS has_org_id,
       pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid=i.indrelid JOIN pg_namespace n ON n.oid=c.relnamespace
 WHERE i.indisunique AND n.nspname IN ('public','agency','enclave','underway','tower_sessions') ORDER BY 1::text,2::text;
\echo '== views'
SELECT c.oid::regclass, c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid=c.relnamespace
 WHERE c.relkind IN ('v','m') AND n.nspname IN ('public','agency','enclave','underway','tower_sessions') ORDER BY 1::text;
