-- Variants of a single-statement read of one tenant's brand guidelines on Citus, to see
-- where the time goes (run as the superuser on the coordinator's enclave database).
SET citus.propagate_set_commands = 'local';
-- F1: a delegated PL/pgSQL function that does nothing.
CREATE FUNCTION enclave.floor_noop(p_org uuid) RETURNS SETOF int
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $f$ BEGIN RETURN; END $f$;
-- F2: a delegated function returning the tenant's rows of the SME table, no context (the
--     runtime role then sees none, the superuser all: run as the superuser).
CREATE FUNCTION enclave.floor_rows(p_org uuid) RETURNS SETOF public.brand_guidelines
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $f$
    BEGIN RETURN QUERY SELECT * FROM public.brand_guidelines g WHERE g.org_id = p_org; END $f$;
-- F3: the same function, not delegated (runs on the coordinator, the query routed).
CREATE FUNCTION enclave.floor_rows_coord(p_org uuid) RETURNS SETOF public.brand_guidelines
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $f$
    BEGIN RETURN QUERY SELECT * FROM public.brand_guidelines g WHERE g.org_id = p_org; END $f$;
-- F4: the door (enter_context) and the view, delegated: a copy of read_brand_guidelines.
CREATE FUNCTION enclave.floor_door(p_org uuid, p_workspace uuid, p_user uuid, p_proof text)
    RETURNS SETOF public.brand_guidelines_unified
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $f$
    BEGIN
        PERFORM enclave.enter_context(p_org, p_workspace, p_user, p_proof);
        RETURN QUERY SELECT * FROM public.brand_guidelines_unified g WHERE g.org_id = p_org;
    END $f$;
GRANT EXECUTE ON FUNCTION enclave.floor_noop(uuid), enclave.floor_rows(uuid), enclave.floor_rows_coord(uuid),
    enclave.floor_door(uuid, uuid, uuid, text) TO enclave_runtime;
SELECT create_distributed_function('enclave.floor_noop(uuid)', 'p_org', colocate_with := 'public.invitations');
SELECT create_distributed_function('enclave.floor_rows(uuid)', 'p_org', colocate_with := 'public.invitations');
SELECT create_distributed_function('enclave.floor_rows_coord(uuid)');
SELECT create_distributed_function('enclave.floor_door(uuid,uuid,uuid,text)', 'p_org', colocate_with := 'public.invitations');
-- The door on a worker needs the proof keys there: a reference table, read from its
-- placement as the seal key is (the recipe does the same for context_key).
SELECT create_reference_table('enclave.context_proof_keys');
SELECT truncate_local_data_after_distributing_table('enclave.context_proof_keys');
GRANT SELECT ON public.brand_guidelines_unified TO enclave_runtime;
