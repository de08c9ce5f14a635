\set ON_ERROR_STOP 1
-- readers v3: key from a plain per-node table (not in Citus metadata); no nested-execution GUC
CREATE OR REPLACE FUNCTION enclave.current_org_id() RETURNS uuid
    LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_org text := coalesce(current_setting('enclave.org_id', true), '');
    BEGIN
        IF v_org = '' THEN
            RETURN NULL;
        END IF;
        RETURN (SELECT CASE WHEN coalesce(current_setting('enclave.context_seal', true), '')
                                 = encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to(v_org || '/'
                                       || coalesce(current_setting('enclave.user_id', true), '') || '/'
                                       || coalesce(current_setting('enclave.workspace_id', true), '') || '/'
                                       || enclave.context_binding(), 'UTF8'))), 'hex')
                            THEN v_org::uuid END
                  FROM enclave.context_key_local k);
    END $$;
ALTER FUNCTION enclave.current_org_id() RESET citus.allow_nested_distributed_execution;
