SELECT * FROM run_command_on_workers($$SELECT string_agg(p.oid::regprocedure::text || ' owner=' || pg_get_userbyid(p.proowner) || ' secdef=' || p.prosecdef, '; ' ORDER BY 1) FROM pg_proc p WHERE pronamespace='enclave'::regnamespace$$);
SELECT * FROM run_command_on_workers($$SELECT count(*) FROM enclave.context_key$$);
SELECT * FROM run_command_on_workers($$SELECT string_agg(tablename||':'||policyname||':'||qual, ', ') FROM pg_policies WHERE tablename LIKE 'items%'$$);
SELECT * FROM run_command_on_workers($$SELECT string_agg(relname||' rls='||relrowsecurity||' force='||relforcerowsecurity||' owner='||pg_get_userbyid(relowner), ', ') FROM pg_class WHERE relname LIKE 'items%' AND relkind='r'$$);
SELECT count(*), count(DISTINCT org_id) FROM items;
SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname='items';
