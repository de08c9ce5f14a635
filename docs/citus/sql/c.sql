\echo === c1 enter_context (definer) -> seal_context -> set_config(...,true)
BEGIN;
SELECT enclave.enter_context('00000000-0000-0000-0000-000000000001', NULL, '00000000-0000-0000-0000-0000000000aa');
SELECT 'coordinator', enclave.debug_ctx();
SELECT DISTINCT enclave.debug_ctx() AS worker_view FROM probe;
SELECT count(*) AS rows_visible FROM items;
COMMIT;
\echo === c2 enter_context_sl (definer, EXECUTE SET LOCAL)
BEGIN;
SELECT enclave.enter_context_sl('00000000-0000-0000-0000-000000000001', NULL, '00000000-0000-0000-0000-0000000000aa');
SELECT DISTINCT enclave.debug_ctx() AS worker_view FROM probe;
SELECT count(*) AS rows_visible FROM items;
COMMIT;
\echo === c3 connections already open before the SET LOCAL, then switch org within the transaction
BEGIN;
SELECT count(*) AS warmup FROM probe;
SELECT enclave.enter_context_sl('00000000-0000-0000-0000-000000000001', NULL, '00000000-0000-0000-0000-0000000000aa');
SELECT count(*) AS rows_org1 FROM items;
SELECT enclave.enter_context_sl('00000000-0000-0000-0000-000000000002', NULL, '00000000-0000-0000-0000-0000000000aa');
SELECT count(*) AS rows_after_switch, min(body) FROM items;
SELECT enclave.enter_context('00000000-0000-0000-0000-000000000003', NULL, '00000000-0000-0000-0000-0000000000aa');
SELECT count(*) AS rows_after_set_config_switch_to_org3, min(body) FROM items;
SELECT DISTINCT enclave.debug_ctx() AS worker_view FROM probe;
COMMIT;
\echo === c4 after COMMIT, same session
SELECT count(*) AS rows_after_commit FROM items;
