\pset footer off
\echo '=== two consecutive delegated single statements (runtime role)'
SELECT * FROM enclave.w_txn(:'sme', :'nora', :'p_nora');
SELECT * FROM enclave.w_txn(:'sme', :'nora', :'p_nora');
\echo '=== the same in BEGIN … COMMIT (not force-delegated: runs on the coordinator)'
BEGIN;
SELECT * FROM enclave.w_txn(:'sme', :'nora', :'p_nora');
COMMIT;
