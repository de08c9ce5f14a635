-- Helpers for p1_check.sql (superuser; schema wtest, invoker functions the runtime role may run).
CREATE SCHEMA IF NOT EXISTS wtest;
-- Enters an honest context through the door as it is (candidate B: the block is inside
-- seal_context), then reports what this statement sees. For candidate A this function had
-- the EXCEPTION block around enter_context itself (the way p1_exception.sql's doors do).
CREATE OR REPLACE FUNCTION wtest.honest(p_org uuid, p_ws uuid, p_user uuid, p_proof text)
RETURNS TABLE (txn text, seal text, org_seen uuid, personas bigint, memberships bigint)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM enclave.enter_context(p_org, p_ws, p_user, p_proof);
    txn := wtest.txn();
    seal := current_setting('enclave.context_seal', true);
    org_seen := enclave.current_org_id();
    SELECT count(*) INTO personas FROM public.personas;        -- policies evaluated on the workers
    SELECT count(*) INTO memberships FROM public.memberships;
    RETURN NEXT;
END $$;
-- Puts settings and a seal back by hand (what an SQL injection can do), gets a distributed
-- transaction id assigned the same way, and reports what it sees.
CREATE OR REPLACE FUNCTION wtest.replay(p_org text, p_user text, p_ws text, p_seal text)
RETURNS TABLE (txn text, org_seen uuid, user_seen uuid, personas bigint, memberships bigint, brand_guidelines bigint)
LANGUAGE plpgsql AS $$
BEGIN
    SET LOCAL citus.propagate_set_commands = 'local';
    EXECUTE format('SET LOCAL enclave.org_id = %L', p_org);
    EXECUTE format('SET LOCAL enclave.user_id = %L', p_user);
    EXECUTE format('SET LOCAL enclave.workspace_id = %L', p_ws);
    EXECUTE format('SET LOCAL enclave.context_seal = %L', p_seal);
    BEGIN PERFORM 1 FROM enclave.plans; EXCEPTION WHEN OTHERS THEN RAISE; END;
    txn := wtest.txn();
    org_seen := enclave.current_org_id();
    user_seen := enclave.current_user_id();
    SELECT count(*) INTO personas FROM public.personas;
    SELECT count(*) INTO memberships FROM public.memberships;
    SELECT count(*) INTO brand_guidelines FROM public.brand_guidelines;
    RETURN NEXT;
END $$;
GRANT USAGE ON SCHEMA wtest TO enclave_runtime;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA wtest TO enclave_runtime;
