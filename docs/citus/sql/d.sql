\echo === d1 honest: enter_context_sl (SET LOCAL) with binding = Citus distributed transaction id
BEGIN;
SELECT 'coord before enter' AS at, get_current_transaction_id();
SELECT enclave.enter_context_sl('00000000-0000-0000-0000-000000000001', NULL, '00000000-0000-0000-0000-0000000000aa');
SELECT 'coordinator' AS node, enclave.debug_ctx();
SELECT DISTINCT enclave.debug_ctx() AS worker_view FROM probe;
SELECT count(*) AS all_rows_visible, count(DISTINCT org_id) AS orgs FROM items;
SELECT count(*) AS org1_router FROM items WHERE org_id = '00000000-0000-0000-0000-000000000001';
SELECT count(*) AS org2_router FROM items WHERE org_id = '00000000-0000-0000-0000-000000000002';
COMMIT;
\echo === d2 forged: runtime role sets org 2 itself (keeps the seal from org 1 of this same transaction)
BEGIN;
SELECT enclave.enter_context_sl('00000000-0000-0000-0000-000000000001', NULL, '00000000-0000-0000-0000-0000000000aa');
SET LOCAL enclave.org_id = '00000000-0000-0000-0000-000000000002';
SELECT count(*) AS all_rows_visible FROM items;
SELECT count(*) AS org2_router FROM items WHERE org_id = '00000000-0000-0000-0000-000000000002';
SELECT DISTINCT enclave.debug_ctx() AS worker_view FROM probe;
COMMIT;
\echo === d3 forged without any seal
BEGIN;
SET LOCAL enclave.org_id = '00000000-0000-0000-0000-000000000002';
SELECT count(*) AS all_rows_visible FROM items;
SELECT count(*) AS org2_router FROM items WHERE org_id = '00000000-0000-0000-0000-000000000002';
COMMIT;
\echo === d4 replay: seal captured in one transaction, replayed in the next
BEGIN;
SELECT enclave.enter_context_sl('00000000-0000-0000-0000-000000000003', NULL, '00000000-0000-0000-0000-0000000000aa');
SELECT current_setting('enclave.context_seal') AS seal3 \gset
SELECT (get_current_transaction_id()).transaction_number AS tn3, (get_current_transaction_id()).transaction_stamp AS ts3 \gset
SELECT count(*) AS org3_in_own_tx FROM items;
COMMIT;
BEGIN;
SET LOCAL enclave.org_id = '00000000-0000-0000-0000-000000000003';
SET LOCAL enclave.user_id = '00000000-0000-0000-0000-0000000000aa';
SET LOCAL enclave.workspace_id = '';
SET LOCAL enclave.context_seal = :'seal3';
SELECT count(*) AS replayed_rows FROM items;
COMMIT;
\echo === d5 replay + forged distributed transaction id via assign_distributed_transaction_id (PUBLIC-executable)
BEGIN;
SELECT assign_distributed_transaction_id(0, :tn3, :'ts3');
SELECT get_current_transaction_id();
SET LOCAL enclave.org_id = '00000000-0000-0000-0000-000000000003';
SET LOCAL enclave.user_id = '00000000-0000-0000-0000-0000000000aa';
SET LOCAL enclave.workspace_id = '';
SET LOCAL enclave.context_seal = :'seal3';
SELECT count(*) AS replayed_rows_with_forged_txid FROM items;
SELECT DISTINCT enclave.debug_ctx() AS worker_view FROM probe;
COMMIT;
\echo === d6 the originator check in enter_context_sl refuses a pre-assigned id
BEGIN;
SELECT assign_distributed_transaction_id(0, 424242, now());
SELECT enclave.enter_context_sl('00000000-0000-0000-0000-000000000001', NULL, '00000000-0000-0000-0000-0000000000aa');
ROLLBACK;
