CREATE OR REPLACE FUNCTION enclave.seal_context(p_org uuid, p_user uuid, p_workspace uuid)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
        DECLARE
            v_org text := coalesce(p_org::text, '');
            v_user text := coalesce(p_user::text, '');
            v_workspace text := coalesce(p_workspace::text, '');
            v_seal text;
        BEGIN
            PERFORM 1 FROM enclave.context_key;   -- a Citus query: assigns the transaction id
            SELECT encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to(v_org || '/' || v_user || '/'
                          || v_workspace || '/' || enclave.context_binding(), 'UTF8'))), 'hex')
              INTO v_seal FROM enclave.context_key_102008 k;
            PERFORM enclave.put_context(v_org, v_user, v_workspace, v_seal);
        END $function$
;
