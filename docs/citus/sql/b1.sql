\echo --- privileges
SELECT p.oid::regprocedure, p.provolatile, p.proacl FROM pg_proc p WHERE proname IN ('get_current_transaction_id','assign_distributed_transaction_id','get_all_active_transactions','get_global_active_transactions','citus_backend_gpid','citus_internal_add_object_metadata') ORDER BY 1;
\echo --- implicit transaction
SELECT get_current_transaction_id(), transaction_timestamp();
SELECT get_current_transaction_id(), transaction_timestamp();
\echo --- explicit BEGIN, before any distributed query
BEGIN;
SELECT 'coord before' AS at, get_current_transaction_id(), transaction_timestamp();
SELECT count(*) FROM enclave.context_key;
SELECT 'coord after ref-table read (local placement)' AS at, get_current_transaction_id();
SELECT count(*) FROM probe WHERE k = 1;
SELECT 'coord after router query' AS at, get_current_transaction_id();
SELECT DISTINCT get_current_transaction_id()::text || ' ts=' || transaction_timestamp()::text AS on_workers FROM probe;
SELECT 'coord after multi-shard' AS at, get_current_transaction_id();
COMMIT;
\echo --- next transaction
BEGIN;
SELECT 'coord' AS at, get_current_transaction_id(), transaction_timestamp();
SELECT DISTINCT get_current_transaction_id()::text || ' ts=' || transaction_timestamp()::text AS on_workers FROM probe;
SELECT 'coord' AS at, get_current_transaction_id();
COMMIT;
