REVOKE EXECUTE ON FUNCTION pg_catalog.assign_distributed_transaction_id(integer,bigint,timestamptz) FROM PUBLIC;
SELECT has_function_privilege('enclave_runtime','assign_distributed_transaction_id(integer,bigint,timestamptz)','EXECUTE') AS coord_runtime_can_assign;
SELECT * FROM run_command_on_workers($$SELECT has_function_privilege('enclave_runtime','assign_distributed_transaction_id(integer,bigint,timestamptz)','EXECUTE')$$);
