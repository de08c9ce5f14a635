-- Cluster benchmark setup (superuser, after p1_seal_block.sql and p2_delegation_setup.sql /
-- p2_force_setup.sql): a non-delegated copy of the routed read_brand_guidelines.
CREATE OR REPLACE FUNCTION enclave.w_read_bg_coord(p_org uuid, p_workspace uuid, p_user uuid, p_proof text)
 RETURNS SETOF brand_guidelines_unified
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    BEGIN
        PERFORM enclave.enter_context(p_org, p_workspace, p_user, p_proof);
        RETURN QUERY SELECT * FROM public.brand_guidelines_unified WHERE org_id = p_org;
    END $function$;
ALTER FUNCTION enclave.w_read_bg_coord(uuid, uuid, uuid, text) OWNER TO enclave_owner;
REVOKE ALL ON FUNCTION enclave.w_read_bg_coord(uuid, uuid, uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION enclave.w_read_bg_coord(uuid, uuid, uuid, text) TO enclave_runtime;
