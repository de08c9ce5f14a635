-- The single-statement read door names its organization in its query (issue 14).
--
-- enclave.read_brand_guidelines (0027) returned `SELECT * FROM brand_guidelines_unified`
-- and left the organization to the policies. On one node that is the same rows through the
-- same index; on Citus a query without the distribution key is sent to every shard of
-- both tables behind the view (64 here) and each filters its rows away: measured on the
-- test cluster, 17 reads per second against 5,000 for a bare routed SELECT. With
-- `org_id = p_org` Citus routes it to the one shard group of the organization (620 per
-- second in the same run). The policies still decide what is visible; the filter only
-- names where to look. Tested: server/tests/tenant_tables.rs
-- `every_read_door_names_its_organization`.
CREATE OR REPLACE FUNCTION enclave.read_brand_guidelines(p_org uuid, p_workspace uuid, p_user uuid, p_proof text)
    RETURNS SETOF public.brand_guidelines_unified
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        PERFORM enclave.enter_context(p_org, p_workspace, p_user, p_proof);
        RETURN QUERY SELECT * FROM public.brand_guidelines_unified g WHERE g.org_id = p_org;
    END $$;
