\echo === a1: 0023 as-is: enter_context -> seal_context with set_config(...,true)
SHOW citus.propagate_set_commands;
BEGIN;
SELECT enclave.enter_context('00000000-0000-0000-0000-000000000001', NULL, '00000000-0000-0000-0000-0000000000aa');
SELECT 'coordinator' AS node, enclave.debug_ctx();
SELECT count(*) AS all_rows_visible FROM items;
SELECT count(*) AS org1_router FROM items WHERE org_id = '00000000-0000-0000-0000-000000000001';
SELECT DISTINCT enclave.debug_ctx() AS worker_view FROM probe;
COMMIT;
\echo === a2: same binding (pid@xact start), settings written with SET LOCAL in a SECURITY DEFINER fn (propagate_set_commands=local)
BEGIN;
SELECT enclave.enter_context_sl('00000000-0000-0000-0000-000000000001', NULL, '00000000-0000-0000-0000-0000000000aa');
SELECT 'coordinator' AS node, enclave.debug_ctx();
SELECT count(*) AS all_rows_visible FROM items;
SELECT count(*) AS org1_router FROM items WHERE org_id = '00000000-0000-0000-0000-000000000001';
SELECT DISTINCT enclave.debug_ctx() AS worker_view FROM probe;
SELECT DISTINCT enclave.debug_ctx() AS worker_view_router FROM probe WHERE k = 1;
COMMIT;
