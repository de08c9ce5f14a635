-- Function delegation experiment (superuser, after distribute.sql and p1_seal_block.sql).
-- 1. The proof keys on every node: a delegated door runs require_proof on the worker, and
--    enclave.context_proof_keys is local to the coordinator (measured: ERROR:  relation
--    "enclave.context_proof_keys" does not exist ... while executing command on 127.0.0.1:58434).
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'enclave.context_proof_keys'::regclass) THEN
        PERFORM create_reference_table('enclave.context_proof_keys');
        PERFORM truncate_local_data_after_distributing_table('enclave.context_proof_keys');
    END IF;
END $$;
-- 2. read_brand_guidelines routed to its organization's shard (WHERE org_id = p_org), as
--    REPORT.md section 6 recommends; the unrouted form is a multi-shard query from inside a
--    delegated call.
CREATE OR REPLACE FUNCTION enclave.read_brand_guidelines(p_org uuid, p_workspace uuid, p_user uuid, p_proof text)
 RETURNS SETOF brand_guidelines_unified
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    BEGIN
        PERFORM enclave.enter_context(p_org, p_workspace, p_user, p_proof);
        RETURN QUERY SELECT * FROM public.brand_guidelines_unified WHERE org_id = p_org;
    END $function$;
-- 3. Delegation by organization.
SELECT create_distributed_function('enclave.read_brand_guidelines(uuid,uuid,uuid,text)', 'p_org',
                                   colocate_with := 'public.memberships');
-- 4. The views Citus copied to the workers (as dependencies of distributed functions) came
--    without their grants: "ERROR:  permission denied for view brand_guidelines_unified ...
--    while executing command on 127.0.0.1:58434". Re-issuing the coordinator's grants
--    propagates them (distributed views).
DO $$
DECLARE v record;
BEGIN
    FOR v IN SELECT c.oid::regclass AS rel FROM pg_dist_object o JOIN pg_class c ON c.oid = o.objid
              WHERE o.classid = 'pg_class'::regclass AND c.relkind = 'v'
                AND has_table_privilege('enclave_runtime', c.oid, 'SELECT') LOOP
        EXECUTE format('GRANT SELECT ON %s TO enclave_runtime', v.rel);
    END LOOP;
END $$;
