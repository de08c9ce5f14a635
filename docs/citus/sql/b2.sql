\x off
SELECT has_function_privilege('enclave_runtime','assign_distributed_transaction_id(integer,bigint,timestamptz)','EXECUTE') AS runtime_can_assign,
       has_function_privilege('enclave_runtime','get_current_transaction_id()','EXECUTE') AS runtime_can_get;
SELECT * FROM run_command_on_workers($$SELECT has_function_privilege('enclave_runtime','assign_distributed_transaction_id(integer,bigint,timestamptz)','EXECUTE')$$);
\echo --- which statement assigns the coordinator's distributed transaction id?
BEGIN; SELECT count(*) FROM enclave.context_key; SELECT 'after ref-table read (local placement on coordinator)' AS at, (get_current_transaction_id()).transaction_number; COMMIT;
BEGIN; SELECT count(*) FROM probe WHERE k = 1; SELECT 'after router select' AS at, (get_current_transaction_id()).transaction_number; COMMIT;
BEGIN; SELECT count(*) FROM probe; SELECT 'after multi-shard select' AS at, (get_current_transaction_id()).transaction_number; COMMIT;
BEGIN; SELECT count(*) FROM pg_dist_node; SELECT 'after catalog read' AS at, (get_current_transaction_id()).transaction_number; COMMIT;
\echo --- get_all_active_transactions columns (for transaction_originator)
BEGIN; SELECT count(*) FROM probe WHERE k=1; SELECT * FROM get_all_active_transactions() WHERE process_id = pg_backend_pid(); COMMIT;
