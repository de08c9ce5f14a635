\set ON_ERROR_STOP 1
CREATE ROLE enclave_owner LOGIN NOSUPERUSER NOBYPASSRLS;
CREATE ROLE enclave_runtime LOGIN NOSUPERUSER NOBYPASSRLS;
CREATE SCHEMA enclave AUTHORIZATION enclave_owner;
GRANT USAGE ON SCHEMA enclave TO enclave_runtime;
GRANT USAGE, CREATE ON SCHEMA public TO enclave_owner;

SET ROLE enclave_owner;
CREATE TABLE enclave.context_key (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    inner_pad  bytea NOT NULL CHECK (length(inner_pad) = 64),
    outer_pad  bytea NOT NULL CHECK (length(outer_pad) = 64),
    created_at timestamptz NOT NULL DEFAULT now()
);
SELECT create_reference_table('enclave.context_key');
DO $$
DECLARE
    v_key bytea := uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())
                   || decode(repeat('00', 32), 'hex');
    v_inner bytea := v_key;
    v_outer bytea := v_key;
BEGIN
    FOR i IN 0..63 LOOP
        v_inner := set_byte(v_inner, i, get_byte(v_key, i) # 54);
        v_outer := set_byte(v_outer, i, get_byte(v_key, i) # 92);
    END LOOP;
    INSERT INTO enclave.context_key (inner_pad, outer_pad) VALUES (v_inner, v_outer);
END $$;

-- single-node binding, as in 0023
CREATE FUNCTION enclave.context_binding() RETURNS text
    LANGUAGE sql STABLE PARALLEL RESTRICTED
    AS $$ SELECT pg_catalog.pg_backend_pid()::text || '@'
                 || pg_catalog.date_part('epoch', pg_catalog.transaction_timestamp())::text $$;

-- seal_context exactly as 0023 (set_config(...,true))
CREATE FUNCTION enclave.seal_context(p_org uuid, p_user uuid, p_workspace uuid) RETURNS void
    LANGUAGE plpgsql
    AS $$
    DECLARE
        v_org text := coalesce(p_org::text, '');
        v_user text := coalesce(p_user::text, '');
        v_workspace text := coalesce(p_workspace::text, '');
    BEGIN
        PERFORM pg_catalog.set_config('enclave.org_id', v_org, true),
                pg_catalog.set_config('enclave.user_id', v_user, true),
                pg_catalog.set_config('enclave.workspace_id', v_workspace, true),
                pg_catalog.set_config('enclave.context_seal', pg_catalog.encode(pg_catalog.sha256(k.outer_pad
                    || pg_catalog.sha256(k.inner_pad || pg_catalog.convert_to(v_org || '/' || v_user || '/'
                       || v_workspace || '/' || enclave.context_binding(), 'UTF8'))), 'hex'), true)
           FROM enclave.context_key k;
    END $$;

CREATE FUNCTION enclave.current_org_id() RETURNS uuid
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
                  FROM enclave.context_key k);
    END $$;

CREATE FUNCTION enclave.current_user_id() RETURNS uuid
    LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_user text := coalesce(current_setting('enclave.user_id', true), '');
    BEGIN
        IF v_user = '' THEN
            RETURN NULL;
        END IF;
        RETURN (SELECT CASE WHEN coalesce(current_setting('enclave.context_seal', true), '')
                                 = encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to(
                                       coalesce(current_setting('enclave.org_id', true), '') || '/' || v_user || '/'
                                       || coalesce(current_setting('enclave.workspace_id', true), '') || '/'
                                       || enclave.context_binding(), 'UTF8'))), 'hex')
                            THEN v_user::uuid END
                  FROM enclave.context_key k);
    END $$;

-- Entry point for the runtime role (the real one checks membership; not needed here)
CREATE FUNCTION enclave.enter_context(p_org uuid, p_workspace uuid, p_user uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN PERFORM enclave.seal_context(p_org, p_user, p_workspace); END $$;

-- Diagnostic: what this node computes (runs as owner)
CREATE FUNCTION enclave.debug_ctx() RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN
      RETURN format('pid=%s binding=%s org=%s seal=%s ok_org=%s',
         pg_backend_pid(), enclave.context_binding(),
         current_setting('enclave.org_id', true),
         left(coalesce(current_setting('enclave.context_seal', true),''),12),
         enclave.current_org_id());
    END $$;

CREATE TABLE public.items (org_id uuid NOT NULL, id int NOT NULL, body text, PRIMARY KEY (org_id, id));
ALTER TABLE public.items ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.items FORCE ROW LEVEL SECURITY;
CREATE POLICY items_tenant ON public.items USING (org_id = enclave.current_org_id());
SELECT create_distributed_table('public.items', 'org_id');
RESET ROLE;

GRANT EXECUTE ON FUNCTION enclave.enter_context(uuid,uuid,uuid) TO enclave_runtime;
REVOKE EXECUTE ON FUNCTION enclave.seal_context(uuid,uuid,uuid) FROM PUBLIC;
GRANT SELECT ON public.items TO enclave_runtime;

-- rows for 5 orgs x 20 (as postgres: superuser bypasses RLS)
CREATE TABLE public.orgs(n int, org_id uuid);
INSERT INTO public.orgs SELECT n, ('00000000-0000-0000-0000-00000000000'||n)::uuid FROM generate_series(1,5) n;
INSERT INTO public.items SELECT o.org_id, i, 'org'||o.n||' item '||i FROM public.orgs o, generate_series(1,20) i;
