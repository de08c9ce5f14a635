-- Restoring an earlier version of the brand guidelines is a save of that version's
-- text: the version number moves on, and the history (kept by 0007's trigger) records
-- the restore like any other save. The version is looked up through the unified view,
-- so row-level security confines it to the current organization or client.
CREATE FUNCTION enclave.restore_brand_guidelines(p_version integer, p_expected_version integer)
    RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE v record;
    BEGIN
        SELECT g.voice, g.tone, g.palette, g.do_list, g.dont_list INTO v
          FROM public.brand_guideline_versions_unified g
         WHERE g.version = p_version;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'version % of these guidelines does not exist', p_version
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        RETURN enclave.save_brand_guidelines(v.voice, v.tone, v.palette, v.do_list, v.dont_list,
                                             p_expected_version);
    END $$;

GRANT EXECUTE ON FUNCTION enclave.restore_brand_guidelines(integer, integer) TO enclave_runtime;
