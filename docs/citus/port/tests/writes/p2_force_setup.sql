-- force_delegation experiment (superuser), after p1_seal_block.sql and p2_delegation_setup.sql.
-- A test copy of save_persona whose first argument is the organization (the distribution
-- argument; it must match the sealed context), and a routed invoker reader.
CREATE OR REPLACE FUNCTION enclave.w_save_persona(p_org uuid, p_persona uuid, p_name text, p_role_title text,
                                                  p_goals text, p_pains text, p_channels text[])
 RETURNS uuid
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    DECLARE s record := enclave.require_scope(); v_id uuid := coalesce(p_persona, gen_random_uuid());
    BEGIN
        IF s.o_org IS DISTINCT FROM p_org THEN
            RAISE EXCEPTION 'the organization is not the context''s' USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF s.o_kind = 'sme' THEN
            INSERT INTO public.personas AS p (org_id, persona_id, name, role_title, goals, pains, channels, updated_by)
            VALUES (s.o_org, v_id, p_name, coalesce(p_role_title, ''), coalesce(p_goals, ''), coalesce(p_pains, ''),
                    coalesce(p_channels, '{}'), enclave.current_user_id())
            ON CONFLICT (org_id, persona_id) DO UPDATE
               SET name = EXCLUDED.name, role_title = EXCLUDED.role_title, goals = EXCLUDED.goals,
                   pains = EXCLUDED.pains, channels = EXCLUDED.channels, updated_at = EXCLUDED.updated_at,
                   updated_by = EXCLUDED.updated_by;
        ELSE
            INSERT INTO agency.personas AS p (org_id, workspace_id, persona_id, name, role_title, goals, pains, channels, updated_by)
            VALUES (s.o_org, s.o_workspace, v_id, p_name, coalesce(p_role_title, ''), coalesce(p_goals, ''),
                    coalesce(p_pains, ''), coalesce(p_channels, '{}'), enclave.current_user_id())
            ON CONFLICT (org_id, workspace_id, persona_id) DO UPDATE
               SET name = EXCLUDED.name, role_title = EXCLUDED.role_title, goals = EXCLUDED.goals,
                   pains = EXCLUDED.pains, channels = EXCLUDED.channels, updated_at = EXCLUDED.updated_at,
                   updated_by = EXCLUDED.updated_by;
        END IF;
        RETURN v_id;
    END $function$;
ALTER FUNCTION enclave.w_save_persona(uuid, uuid, text, text, text, text, text[]) OWNER TO enclave_owner;
REVOKE EXECUTE ON FUNCTION enclave.w_save_persona(uuid, uuid, text, text, text, text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION enclave.w_save_persona(uuid, uuid, text, text, text, text, text[]) TO enclave_runtime;
-- invoker reader routed by organization
CREATE OR REPLACE FUNCTION enclave.w_count_personas(p_org uuid) RETURNS bigint
    LANGUAGE sql STABLE SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ SELECT count(*) FROM public.personas WHERE org_id = p_org $$;
ALTER FUNCTION enclave.w_count_personas(uuid) OWNER TO enclave_owner;
GRANT EXECUTE ON FUNCTION enclave.w_count_personas(uuid) TO enclave_runtime;
SELECT create_distributed_function('enclave.w_save_persona(uuid,uuid,text,text,text,text,text[])', 'p_org',
                                   colocate_with := 'public.memberships', force_delegation := true);
SELECT create_distributed_function('enclave.w_count_personas(uuid)', 'p_org',
                                   colocate_with := 'public.memberships', force_delegation := true);
SELECT create_distributed_function('enclave.enter_context(uuid,uuid,uuid,text)', 'p_org',
                                   colocate_with := 'public.memberships', force_delegation := true);
SELECT create_distributed_function('enclave.read_brand_guidelines(uuid,uuid,uuid,text)', 'p_org',
                                   colocate_with := 'public.memberships', force_delegation := true);
SELECT p.oid::regprocedure, o.distribution_argument_index, o.colocationid, o.force_delegation
  FROM pg_dist_object o JOIN pg_proc p ON p.oid = o.objid
 WHERE o.classid = 'pg_proc'::regclass AND o.distribution_argument_index IS NOT NULL ORDER BY 1::text;
-- a delegated invoker function that reads every shard (not only its organization's)
CREATE OR REPLACE FUNCTION enclave.w_count_all_personas(p_org uuid) RETURNS bigint
    LANGUAGE sql STABLE SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ SELECT count(*) FROM public.personas $$;
ALTER FUNCTION enclave.w_count_all_personas(uuid) OWNER TO enclave_owner;
GRANT EXECUTE ON FUNCTION enclave.w_count_all_personas(uuid) TO enclave_runtime;
SELECT create_distributed_function('enclave.w_count_all_personas(uuid)', 'p_org',
                                   colocate_with := 'public.memberships', force_delegation := true);
