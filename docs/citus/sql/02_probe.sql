\set ON_ERROR_STOP 1
SET ROLE enclave_owner;
-- variant of seal that writes the four settings with SET LOCAL (EXECUTE format) in a SECURITY DEFINER function
CREATE FUNCTION enclave.enter_context_sl(p_org uuid, p_workspace uuid, p_user uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_org text := coalesce(p_org::text, '');
        v_user text := coalesce(p_user::text, '');
        v_workspace text := coalesce(p_workspace::text, '');
        v_seal text;
    BEGIN
        SELECT encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to(v_org || '/' || v_user || '/'
                       || v_workspace || '/' || enclave.context_binding(), 'UTF8'))), 'hex')
          INTO v_seal FROM enclave.context_key k;
        EXECUTE format('SET LOCAL enclave.org_id = %L', v_org);
        EXECUTE format('SET LOCAL enclave.user_id = %L', v_user);
        EXECUTE format('SET LOCAL enclave.workspace_id = %L', v_workspace);
        EXECUTE format('SET LOCAL enclave.context_seal = %L', v_seal);
    END $$;
-- probe table without RLS: one row per shard-ish, to see what the worker backends compute
CREATE TABLE public.probe (k int PRIMARY KEY);
SELECT create_distributed_table('public.probe', 'k');
RESET ROLE;
INSERT INTO public.probe SELECT generate_series(1,8);
GRANT SELECT ON public.probe TO enclave_runtime;
GRANT EXECUTE ON FUNCTION enclave.enter_context_sl(uuid,uuid,uuid), enclave.debug_ctx() TO enclave_runtime;
ALTER ROLE enclave_runtime SET citus.propagate_set_commands = 'local';
