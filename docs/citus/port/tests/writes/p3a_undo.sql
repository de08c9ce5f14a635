-- Undo p3a_setup.sql's two changes (superuser): stamp_job_task an invoker again, task_scope
-- back to current_workspace_id().
ALTER FUNCTION enclave.stamp_job_task() SECURITY INVOKER;
DO $$
DECLARE v_qual text; v_check text;
BEGIN
    SELECT replace(pg_get_expr(polqual, polrelid), 'enclave.sealed_workspace_id()', 'enclave.current_workspace_id()'),
           replace(pg_get_expr(polwithcheck, polrelid), 'enclave.sealed_workspace_id()', 'enclave.current_workspace_id()')
      INTO v_qual, v_check FROM pg_policy WHERE polrelid = 'underway.task'::regclass AND polname = 'task_scope';
    EXECUTE format('ALTER POLICY task_scope ON underway.task USING (%s) WITH CHECK (%s)', v_qual, v_check);
END $$;
