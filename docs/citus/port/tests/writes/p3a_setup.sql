-- P2 alternative (a): every tenant read through SECURITY DEFINER functions (the owner, like
-- the writes). Superuser. Test definer readers, routed by the sealed organization.
CREATE OR REPLACE FUNCTION enclave.w_def_count_personas() RETURNS bigint
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ DECLARE v_org uuid := enclave.current_org_id();
    BEGIN RETURN (SELECT count(*) FROM public.personas_unified WHERE org_id = v_org); END $$;
ALTER FUNCTION enclave.w_def_count_personas() OWNER TO enclave_owner;
REVOKE EXECUTE ON FUNCTION enclave.w_def_count_personas() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION enclave.w_def_count_personas() TO enclave_runtime;
-- read_brand_guidelines as a definer (test copy, routed), for a door + read in one call
CREATE OR REPLACE FUNCTION enclave.w_def_read_brand_guidelines(p_org uuid, p_workspace uuid, p_user uuid, p_proof text)
 RETURNS SETOF brand_guidelines_unified
 LANGUAGE plpgsql SECURITY DEFINER SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    BEGIN
        PERFORM enclave.enter_context(p_org, p_workspace, p_user, p_proof);
        RETURN QUERY SELECT * FROM public.brand_guidelines_unified WHERE org_id = p_org;
    END $function$;
ALTER FUNCTION enclave.w_def_read_brand_guidelines(uuid, uuid, uuid, text) OWNER TO enclave_owner;
REVOKE EXECUTE ON FUNCTION enclave.w_def_read_brand_guidelines(uuid, uuid, uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION enclave.w_def_read_brand_guidelines(uuid, uuid, uuid, text) TO enclave_runtime;
-- The enqueue: stamp_job_task (trigger on underway.task, coordinator) reads memberships
-- through current_member_role() as the inserting user. Made a definer for this test.
-- (Measured before this: "ERROR:  cannot perform query on placements that were modified in
-- this transaction by a different user" in current_member_role() called by stamp_job_task().)
ALTER FUNCTION enclave.stamp_job_task() SECURITY DEFINER;
-- The queue's policy (task_scope on underway.task, evaluated as the inserting runtime role)
-- calls current_workspace_id(), which reads agency.client_workspaces (and, through its
-- policy, memberships) as the runtime role. Measured for an agency enqueue after a definer
-- write: the same error in current_member_role() <- current_workspace_id(). Replaced by
-- sealed_workspace_id() (no table read; enter_context checked the workspace).
DO $$
DECLARE v_qual text; v_check text;
BEGIN
    SELECT replace(pg_get_expr(polqual, polrelid), 'enclave.current_workspace_id()', 'enclave.sealed_workspace_id()'),
           replace(pg_get_expr(polwithcheck, polrelid), 'enclave.current_workspace_id()', 'enclave.sealed_workspace_id()')
      INTO v_qual, v_check FROM pg_policy WHERE polrelid = 'underway.task'::regclass AND polname = 'task_scope';
    EXECUTE format('ALTER POLICY task_scope ON underway.task USING (%s) WITH CHECK (%s)', v_qual, v_check);
END $$;
