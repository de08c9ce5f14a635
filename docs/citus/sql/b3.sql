\set ON_ERROR_STOP 1
SET ROLE enclave_owner;
-- Binding v2: the Citus distributed transaction id, timezone/float-format independent; NULL when none assigned
CREATE OR REPLACE FUNCTION enclave.context_binding() RETURNS text
    LANGUAGE sql STABLE PARALLEL RESTRICTED
    AS $$ SELECT t.initiator_node_identifier::text || ':' || t.transaction_number::text || ':'
                 || (extract(epoch FROM t.transaction_stamp) * 1000000)::bigint::text
            FROM pg_catalog.get_current_transaction_id() t WHERE t.transaction_number <> 0 $$;

CREATE OR REPLACE FUNCTION enclave.enter_context_sl(p_org uuid, p_workspace uuid, p_user uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_org text := coalesce(p_org::text, '');
        v_user text := coalesce(p_user::text, '');
        v_workspace text := coalesce(p_workspace::text, '');
        v_seal text;
    BEGIN
        PERFORM 1 FROM enclave.context_key;   -- a Citus query: makes sure a distributed transaction id is assigned
        IF EXISTS (SELECT 1 FROM get_all_active_transactions() a
                    WHERE a.process_id = pg_backend_pid() AND a.worker_query) THEN
            RAISE EXCEPTION 'distributed transaction id was not assigned by this node' USING ERRCODE = 'insufficient_privilege';
        END IF;
        SELECT encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to(v_org || '/' || v_user || '/'
                       || v_workspace || '/' || enclave.context_binding(), 'UTF8'))), 'hex')
          INTO STRICT v_seal FROM enclave.context_key k;
        IF v_seal IS NULL THEN RAISE EXCEPTION 'no distributed transaction id'; END IF;
        EXECUTE format('SET LOCAL enclave.org_id = %L', v_org);
        EXECUTE format('SET LOCAL enclave.user_id = %L', v_user);
        EXECUTE format('SET LOCAL enclave.workspace_id = %L', v_workspace);
        EXECUTE format('SET LOCAL enclave.context_seal = %L', v_seal);
    END $$;

-- seal_context (0023, set_config) with the same pre-step, for question (c)
CREATE OR REPLACE FUNCTION enclave.seal_context(p_org uuid, p_user uuid, p_workspace uuid) RETURNS void
    LANGUAGE plpgsql
    AS $$
    DECLARE
        v_org text := coalesce(p_org::text, '');
        v_user text := coalesce(p_user::text, '');
        v_workspace text := coalesce(p_workspace::text, '');
    BEGIN
        PERFORM 1 FROM enclave.context_key;
        PERFORM pg_catalog.set_config('enclave.org_id', v_org, true),
                pg_catalog.set_config('enclave.user_id', v_user, true),
                pg_catalog.set_config('enclave.workspace_id', v_workspace, true),
                pg_catalog.set_config('enclave.context_seal', pg_catalog.encode(pg_catalog.sha256(k.outer_pad
                    || pg_catalog.sha256(k.inner_pad || pg_catalog.convert_to(v_org || '/' || v_user || '/'
                       || v_workspace || '/' || enclave.context_binding(), 'UTF8'))), 'hex'), true)
           FROM enclave.context_key k;
    END $$;

CREATE OR REPLACE FUNCTION enclave.debug_ctx() RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN
      RETURN format('pid=%s binding=%s org=%s seal=%s ok_org=%s xact_ts=%s',
         pg_backend_pid(), enclave.context_binding(),
         current_setting('enclave.org_id', true),
         left(coalesce(current_setting('enclave.context_seal', true),''),12),
         enclave.current_org_id(), extract(epoch from transaction_timestamp()));
    END $$;
RESET ROLE;
SELECT * FROM run_command_on_workers($$SELECT md5(prosrc) FROM pg_proc WHERE proname='context_binding'$$);
SELECT md5(prosrc) FROM pg_proc WHERE proname='context_binding';
