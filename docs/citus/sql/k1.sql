ALTER FUNCTION enclave.current_org_id() SET citus.allow_nested_distributed_execution = on;
ALTER FUNCTION enclave.current_user_id() SET citus.allow_nested_distributed_execution = on;
SELECT * FROM run_command_on_workers($$SELECT proconfig::text FROM pg_proc WHERE proname='current_org_id'$$);
