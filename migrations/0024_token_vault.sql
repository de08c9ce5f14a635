-- The token vault (issue 13, first part): connected accounts' tokens and queued mail are
-- sealed by the application (vault crate: a versioned AEAD envelope bound to its
-- organization, workspace and record); the database never sees a key. It keeps:
--
-- * `enclave.vault_keys`: each key id data is sealed under, with the key's fingerprint
--   (HMAC of a fixed label; names the key without revealing it). `serve` and `worker`
--   refuse to start when their keys cannot open what the database holds.
-- * `public.connections` / `agency.connections`: connected publishing accounts of the
--   scope (the SME, or one agency client), tenancy shaped like 0010's import batches,
--   tokens only as envelopes.
-- * the rotation's system-path functions: list the envelopes not under the active key,
--   swap one (compare-and-swap, so a concurrent refresh is never overwritten), retire a
--   key once nothing is sealed under it.

CREATE TABLE enclave.vault_keys (
    key_id         text PRIMARY KEY CHECK (key_id ~ '^[A-Za-z0-9._-]{1,32}$'),
    fingerprint    text NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
    registered_at  timestamptz NOT NULL DEFAULT now(),
    retired_at     timestamptz
);
COMMENT ON TABLE enclave.vault_keys IS
    'enclave:global the sealing keys'' ids and fingerprints (no key material), one list for the whole installation';
GRANT SELECT ON enclave.vault_keys TO enclave_runtime;

-- The key id inside an envelope ("EV", version 1, id length, id …); NULL for a value
-- sealed before envelopes (queued mail only).
CREATE FUNCTION enclave.envelope_key_id(p_envelope bytea) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT CASE WHEN octet_length(p_envelope) > 4 AND substring(p_envelope FROM 1 FOR 3) = '\x455601'::bytea
                    THEN convert_from(substring(p_envelope FROM 5 FOR get_byte(p_envelope, 3)), 'UTF8') END
    $$;

CREATE TABLE public.connections (
    org_id             uuid NOT NULL,
    connection_id      uuid NOT NULL,
    org_kind           text NOT NULL DEFAULT 'sme' CONSTRAINT connections_org_kind_sme CHECK (org_kind = 'sme'),
    provider           text NOT NULL CHECK (provider ~ '^[a-z0-9_-]{1,32}$'),
    account_name       text NOT NULL CHECK (length(account_name) BETWEEN 1 AND 200),
    account_ref        text CHECK (length(account_ref) <= 200),
    status             text NOT NULL DEFAULT 'connected' CHECK (status IN ('connected', 'needs_reconnect')),
    status_reason      text CHECK (length(status_reason) <= 500),
    access_token       bytea CHECK (access_token IS NULL OR enclave.envelope_key_id(access_token) IS NOT NULL),
    refresh_token      bytea CHECK (refresh_token IS NULL OR enclave.envelope_key_id(refresh_token) IS NOT NULL),
    expires_at         timestamptz,
    last_refreshed_at  timestamptz,
    created_by         uuid NOT NULL REFERENCES public.users (id),
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, connection_id),
    CHECK ((status = 'needs_reconnect') = (status_reason IS NOT NULL)),
    FOREIGN KEY (org_id, org_kind) REFERENCES public.organizations (id, kind)
);
CREATE TABLE agency.connections (
    org_id             uuid NOT NULL,
    workspace_id       uuid NOT NULL,
    connection_id      uuid NOT NULL,
    org_kind           text NOT NULL DEFAULT 'agency' CONSTRAINT connections_org_kind_agency CHECK (org_kind = 'agency'),
    provider           text NOT NULL CHECK (provider ~ '^[a-z0-9_-]{1,32}$'),
    account_name       text NOT NULL CHECK (length(account_name) BETWEEN 1 AND 200),
    account_ref        text CHECK (length(account_ref) <= 200),
    status             text NOT NULL DEFAULT 'connected' CHECK (status IN ('connected', 'needs_reconnect')),
    status_reason      text CHECK (length(status_reason) <= 500),
    access_token       bytea CHECK (access_token IS NULL OR enclave.envelope_key_id(access_token) IS NOT NULL),
    refresh_token      bytea CHECK (refresh_token IS NULL OR enclave.envelope_key_id(refresh_token) IS NOT NULL),
    expires_at         timestamptz,
    last_refreshed_at  timestamptz,
    created_by         uuid NOT NULL REFERENCES public.users (id),
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, workspace_id, connection_id),
    CHECK ((status = 'needs_reconnect') = (status_reason IS NOT NULL)),
    FOREIGN KEY (org_id, workspace_id) REFERENCES agency.client_workspaces (org_id, workspace_id),
    FOREIGN KEY (org_id, org_kind) REFERENCES public.organizations (id, kind)
);

ALTER TABLE public.connections ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.connections FORCE ROW LEVEL SECURITY;
CREATE POLICY connections_sme ON public.connections
    USING (org_id = (SELECT enclave.current_org_id()) AND org_kind = 'sme')
    WITH CHECK (org_id = (SELECT enclave.current_org_id()) AND org_kind = 'sme');
ALTER TABLE agency.connections ENABLE ROW LEVEL SECURITY;
ALTER TABLE agency.connections FORCE ROW LEVEL SECURITY;
CREATE POLICY connections_client ON agency.connections
    USING (org_id = (SELECT enclave.current_org_id())
           AND workspace_id = (SELECT enclave.current_workspace_id()) AND org_kind = 'agency')
    WITH CHECK (org_id = (SELECT enclave.current_org_id())
           AND workspace_id = (SELECT enclave.current_workspace_id()) AND org_kind = 'agency');
-- Permissive policies are OR-ed: the key rotation re-seals every tenant's tokens on the
-- audited system path (as 0005 does for mail delivery).
CREATE POLICY connections_rotation ON public.connections
    USING ((SELECT enclave.system_path_active()))
    WITH CHECK ((SELECT enclave.system_path_active()));
CREATE POLICY connections_rotation ON agency.connections
    USING ((SELECT enclave.system_path_active()))
    WITH CHECK ((SELECT enclave.system_path_active()));

CREATE VIEW public.connections_unified WITH (security_invoker = on) AS
    SELECT 'sme'::text AS source, c.org_id, NULL::uuid AS workspace_id, c.connection_id, c.provider,
           c.account_name, c.account_ref, c.status, c.status_reason, c.access_token, c.refresh_token,
           c.expires_at, c.last_refreshed_at, c.created_by, c.created_at
      FROM public.connections c
    UNION ALL
    SELECT 'agency'::text, c.org_id, c.workspace_id, c.connection_id, c.provider,
           c.account_name, c.account_ref, c.status, c.status_reason, c.access_token, c.refresh_token,
           c.expires_at, c.last_refreshed_at, c.created_by, c.created_at
      FROM agency.connections c;

-- Connects (or reconnects) an account in the current scope. The application chooses the
-- connection id before sealing, because the envelopes are bound to it; a reconnect of the
-- same id replaces the tokens and clears "needs reconnecting".
CREATE FUNCTION enclave.save_connection(
        p_connection uuid, p_provider text, p_account_name text, p_account_ref text,
        p_access_token bytea, p_refresh_token bytea, p_expires_at timestamptz)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE s record := enclave.require_scope();
    BEGIN
        IF s.o_kind = 'sme' THEN
            INSERT INTO public.connections AS c (org_id, connection_id, provider, account_name, account_ref,
                                                 access_token, refresh_token, expires_at, last_refreshed_at, created_by)
            VALUES (s.o_org, p_connection, p_provider, p_account_name, p_account_ref,
                    p_access_token, p_refresh_token, p_expires_at, now(), enclave.current_user_id())
            ON CONFLICT (org_id, connection_id) DO UPDATE
               SET account_name = excluded.account_name, account_ref = excluded.account_ref,
                   access_token = excluded.access_token, refresh_token = excluded.refresh_token,
                   expires_at = excluded.expires_at, last_refreshed_at = now(),
                   status = 'connected', status_reason = NULL
             WHERE c.provider = excluded.provider;
        ELSE
            INSERT INTO agency.connections AS c (org_id, workspace_id, connection_id, provider, account_name,
                                                 account_ref, access_token, refresh_token, expires_at,
                                                 last_refreshed_at, created_by)
            VALUES (s.o_org, s.o_workspace, p_connection, p_provider, p_account_name, p_account_ref,
                    p_access_token, p_refresh_token, p_expires_at, now(), enclave.current_user_id())
            ON CONFLICT (org_id, workspace_id, connection_id) DO UPDATE
               SET account_name = excluded.account_name, account_ref = excluded.account_ref,
                   access_token = excluded.access_token, refresh_token = excluded.refresh_token,
                   expires_at = excluded.expires_at, last_refreshed_at = now(),
                   status = 'connected', status_reason = NULL
             WHERE c.provider = excluded.provider;
        END IF;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'this connection belongs to another provider' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM enclave.audit_tenant('connect account',
            jsonb_build_object('connection_id', p_connection, 'provider', p_provider, 'account', p_account_name));
    END $$;

-- Deletes a connection of the current scope with its tokens; false when there was none.
CREATE FUNCTION enclave.delete_connection(p_connection uuid) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE s record := enclave.require_scope(); v_count integer;
    BEGIN
        IF s.o_kind = 'sme' THEN
            DELETE FROM public.connections WHERE org_id = s.o_org AND connection_id = p_connection;
        ELSE
            DELETE FROM agency.connections
             WHERE org_id = s.o_org AND workspace_id = s.o_workspace AND connection_id = p_connection;
        END IF;
        GET DIAGNOSTICS v_count = ROW_COUNT;
        IF v_count > 0 THEN
            PERFORM enclave.audit_tenant('disconnect account', jsonb_build_object('connection_id', p_connection));
        END IF;
        RETURN v_count > 0;
    END $$;

-- The refresh's single flight: the caller's transaction takes the connection's row lock
-- (FOR UPDATE, held until it commits), so of any number of requests, jobs and worker
-- processes needing a fresh token at once exactly one calls the provider; the others
-- wait here and read what it stored. Returns nothing for a connection not in this scope.
CREATE FUNCTION enclave.lock_connection(p_connection uuid)
    RETURNS TABLE (provider text, status text, status_reason text, access_token bytea,
                   refresh_token bytea, expires_at timestamptz)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE s record := enclave.require_scope();
    BEGIN
        IF s.o_kind = 'sme' THEN
            RETURN QUERY SELECT c.provider, c.status, c.status_reason, c.access_token, c.refresh_token, c.expires_at
                           FROM public.connections c
                          WHERE c.org_id = s.o_org AND c.connection_id = p_connection
                            FOR UPDATE;
        ELSE
            RETURN QUERY SELECT c.provider, c.status, c.status_reason, c.access_token, c.refresh_token, c.expires_at
                           FROM agency.connections c
                          WHERE c.org_id = s.o_org AND c.workspace_id = s.o_workspace
                            AND c.connection_id = p_connection
                            FOR UPDATE;
        END IF;
    END $$;

-- A refresh's result. p_refresh NULL keeps the refresh token (a provider that does not
-- rotate); tokens must be envelopes (CHECK).
CREATE FUNCTION enclave.store_connection_tokens(
        p_connection uuid, p_access bytea, p_refresh bytea, p_expires_at timestamptz)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE s record := enclave.require_scope();
    BEGIN
        IF s.o_kind = 'sme' THEN
            UPDATE public.connections
               SET access_token = p_access, refresh_token = coalesce(p_refresh, refresh_token),
                   expires_at = p_expires_at, last_refreshed_at = now()
             WHERE org_id = s.o_org AND connection_id = p_connection AND status = 'connected';
        ELSE
            UPDATE agency.connections
               SET access_token = p_access, refresh_token = coalesce(p_refresh, refresh_token),
                   expires_at = p_expires_at, last_refreshed_at = now()
             WHERE org_id = s.o_org AND workspace_id = s.o_workspace AND connection_id = p_connection
               AND status = 'connected';
        END IF;
    END $$;

-- The provider refused the grant (invalid_grant, revoked): the tokens are worth nothing,
-- so they are deleted, and the connection says why until someone reconnects it.
CREATE FUNCTION enclave.mark_connection_needs_reconnect(p_connection uuid, p_reason text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE s record := enclave.require_scope();
    BEGIN
        IF s.o_kind = 'sme' THEN
            UPDATE public.connections
               SET status = 'needs_reconnect', status_reason = left(p_reason, 500),
                   access_token = NULL, refresh_token = NULL, expires_at = NULL
             WHERE org_id = s.o_org AND connection_id = p_connection;
        ELSE
            UPDATE agency.connections
               SET status = 'needs_reconnect', status_reason = left(p_reason, 500),
                   access_token = NULL, refresh_token = NULL, expires_at = NULL
             WHERE org_id = s.o_org AND workspace_id = s.o_workspace AND connection_id = p_connection;
        END IF;
        PERFORM enclave.audit_tenant('connection needs reconnecting',
            jsonb_build_object('connection_id', p_connection, 'reason', left(p_reason, 500)));
    END $$;

-- Publishing an output is a tracked job like generation (its state, error and Retry are
-- the job's; the result holds the remote id and link).
ALTER TABLE public.jobs DROP CONSTRAINT jobs_job_type_check,
    ADD CONSTRAINT jobs_job_type_check CHECK (job_type IN ('generate_outputs', 'import_csv', 'publish_output'));
ALTER TABLE agency.jobs DROP CONSTRAINT jobs_job_type_check,
    ADD CONSTRAINT jobs_job_type_check CHECK (job_type IN ('generate_outputs', 'import_csv', 'publish_output'));

INSERT INTO enclave.job_queues (name, path, description) VALUES
    ('publish_output',      'tenant', 'publishes a campaign output to a connected account'),
    ('publish_output.dead', 'tenant', 'publish_output jobs that failed every attempt');

-- A published output says so (the job that published it holds where).
CREATE FUNCTION enclave.mark_output_published(p_campaign uuid, p_output uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE s record := enclave.require_scope();
    BEGIN
        IF s.o_kind = 'sme' THEN
            UPDATE public.campaign_outputs SET status = 'published', updated_at = now()
             WHERE org_id = s.o_org AND campaign_id = p_campaign AND output_id = p_output;
        ELSE
            UPDATE agency.campaign_outputs SET status = 'published', updated_at = now()
             WHERE org_id = s.o_org AND workspace_id = s.o_workspace
               AND campaign_id = p_campaign AND output_id = p_output;
        END IF;
    END $$;

-- Records the key a process seals with. Re-registering a retired id (nothing is sealed
-- under it any more) takes the new fingerprint; a live id with another key is refused.
CREATE FUNCTION enclave.register_vault_key(p_key_id text, p_fingerprint text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        IF NOT enclave.system_path_active() THEN
            RAISE EXCEPTION 'keys are registered on the system path' USING ERRCODE = 'insufficient_privilege';
        END IF;
        INSERT INTO enclave.vault_keys AS k (key_id, fingerprint) VALUES (p_key_id, p_fingerprint)
        ON CONFLICT (key_id) DO UPDATE
           SET fingerprint = excluded.fingerprint, retired_at = NULL, registered_at = now()
         WHERE k.retired_at IS NOT NULL OR k.fingerprint = excluded.fingerprint;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'key id % is registered with another key', p_key_id
                USING ERRCODE = 'unique_violation';
        END IF;
    END $$;

-- Every sealed value, with what binds it, whose key is not p_active (values sealed before
-- envelopes included), after p_after in a stable order: the rotation pages through them.
CREATE FUNCTION enclave.sealed_values_to_rotate(p_active text, p_after text, p_limit integer)
    RETURNS TABLE (place text, org_id uuid, workspace_id uuid, record_id uuid, column_name text,
                   sealed bytea, cursor_key text)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        IF NOT enclave.system_path_active() THEN
            RAISE EXCEPTION 'the key rotation runs on the system path' USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN QUERY
        SELECT v.place, v.org_id, v.workspace_id, v.record_id, v.column_name, v.sealed,
               concat_ws('/', v.place, v.org_id, v.workspace_id, v.record_id, v.column_name) AS cursor_key
          FROM (SELECT 'mail_outbox'::text AS place, o.org_id, NULL::uuid AS workspace_id, o.mail_id AS record_id,
                       'sealed_body'::text AS column_name, o.sealed_body AS sealed
                  FROM public.mail_outbox o WHERE o.sealed_body IS NOT NULL
                UNION ALL
                SELECT 'connections', c.org_id, NULL, c.connection_id, t.col, t.val
                  FROM public.connections c
                 CROSS JOIN LATERAL (VALUES ('access_token', c.access_token), ('refresh_token', c.refresh_token)) t (col, val)
                 WHERE t.val IS NOT NULL
                UNION ALL
                SELECT 'agency.connections', c.org_id, c.workspace_id, c.connection_id, t.col, t.val
                  FROM agency.connections c
                 CROSS JOIN LATERAL (VALUES ('access_token', c.access_token), ('refresh_token', c.refresh_token)) t (col, val)
                 WHERE t.val IS NOT NULL) v
         WHERE enclave.envelope_key_id(v.sealed) IS DISTINCT FROM p_active
           AND concat_ws('/', v.place, v.org_id, v.workspace_id, v.record_id, v.column_name) > coalesce(p_after, '')
         ORDER BY 7
         LIMIT greatest(1, least(p_limit, 1000));
    END $$;

-- Swaps one sealed value if it is still the one read (a refresh in between wins).
CREATE FUNCTION enclave.replace_sealed_value(
        p_place text, p_org uuid, p_workspace uuid, p_record uuid, p_column text, p_old bytea, p_new bytea)
    RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE v_count integer;
    BEGIN
        IF NOT enclave.system_path_active() THEN
            RAISE EXCEPTION 'the key rotation runs on the system path' USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF enclave.envelope_key_id(p_new) IS NULL THEN
            RAISE EXCEPTION 'only an envelope replaces a sealed value' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF p_place = 'mail_outbox' AND p_column = 'sealed_body' THEN
            UPDATE public.mail_outbox SET sealed_body = p_new
             WHERE org_id = p_org AND mail_id = p_record AND sealed_body = p_old;
        ELSIF p_place = 'connections' AND p_column = 'access_token' THEN
            UPDATE public.connections SET access_token = p_new
             WHERE org_id = p_org AND connection_id = p_record AND access_token = p_old;
        ELSIF p_place = 'connections' AND p_column = 'refresh_token' THEN
            UPDATE public.connections SET refresh_token = p_new
             WHERE org_id = p_org AND connection_id = p_record AND refresh_token = p_old;
        ELSIF p_place = 'agency.connections' AND p_column = 'access_token' THEN
            UPDATE agency.connections SET access_token = p_new
             WHERE org_id = p_org AND workspace_id = p_workspace AND connection_id = p_record AND access_token = p_old;
        ELSIF p_place = 'agency.connections' AND p_column = 'refresh_token' THEN
            UPDATE agency.connections SET refresh_token = p_new
             WHERE org_id = p_org AND workspace_id = p_workspace AND connection_id = p_record AND refresh_token = p_old;
        ELSE
            RAISE EXCEPTION 'no sealed column %.%', p_place, p_column USING ERRCODE = 'invalid_parameter_value';
        END IF;
        GET DIAGNOSTICS v_count = ROW_COUNT;
        RETURN v_count > 0;
    END $$;

-- Marks a key retired once nothing is sealed under it: start-up stops requiring it.
CREATE FUNCTION enclave.retire_vault_key(p_key_id text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE v_left bigint;
    BEGIN
        IF NOT enclave.system_path_active() THEN
            RAISE EXCEPTION 'keys are retired on the system path' USING ERRCODE = 'insufficient_privilege';
        END IF;
        SELECT (SELECT count(*) FROM public.mail_outbox WHERE enclave.envelope_key_id(sealed_body) = p_key_id)
             + (SELECT count(*) FROM public.connections
                 WHERE p_key_id IN (enclave.envelope_key_id(access_token), enclave.envelope_key_id(refresh_token)))
             + (SELECT count(*) FROM agency.connections
                 WHERE p_key_id IN (enclave.envelope_key_id(access_token), enclave.envelope_key_id(refresh_token)))
          INTO v_left;
        IF v_left = 0 THEN
            UPDATE enclave.vault_keys SET retired_at = now() WHERE key_id = p_key_id AND retired_at IS NULL;
        END IF;
        RETURN v_left;
    END $$;

GRANT SELECT ON public.connections, agency.connections, public.connections_unified TO enclave_runtime;
GRANT EXECUTE ON FUNCTION
    enclave.envelope_key_id(bytea),
    enclave.save_connection(uuid, text, text, text, bytea, bytea, timestamptz),
    enclave.delete_connection(uuid),
    enclave.lock_connection(uuid),
    enclave.store_connection_tokens(uuid, bytea, bytea, timestamptz),
    enclave.mark_connection_needs_reconnect(uuid, text),
    enclave.mark_output_published(uuid, uuid),
    enclave.register_vault_key(text, text),
    enclave.sealed_values_to_rotate(text, text, integer),
    enclave.replace_sealed_value(text, uuid, uuid, uuid, text, bytea, bytea),
    enclave.retire_vault_key(text)
    TO enclave_runtime;
INSERT INTO enclave.definer_registry (function, path, rules) VALUES
    ('enclave.save_connection(uuid, text, text, text, bytea, bytea, timestamptz)', 'tenant',
     'require_scope; writes only the current scope''s table (kind from the verified context); tokens must be envelopes (CHECK); audited'),
    ('enclave.delete_connection(uuid)', 'tenant',
     'require_scope; deletes only in the current scope; audited'),
    ('enclave.lock_connection(uuid)', 'tenant',
     'require_scope; locks and returns only a connection of the current scope (sealed tokens)'),
    ('enclave.store_connection_tokens(uuid, bytea, bytea, timestamptz)', 'tenant',
     'require_scope; updates only a connected connection of the current scope; tokens must be envelopes (CHECK)'),
    ('enclave.mark_connection_needs_reconnect(uuid, text)', 'tenant',
     'require_scope; only the current scope''s connection; deletes its tokens; audited'),
    ('enclave.mark_output_published(uuid, uuid)', 'tenant',
     'require_scope; only an output of the current scope'),
    ('enclave.register_vault_key(text, text)', 'system',
     'system_path_active; a live key id keeps its fingerprint'),
    ('enclave.sealed_values_to_rotate(text, text, integer)', 'system',
     'system_path_active; returns envelopes (ciphertext) and their binding only'),
    ('enclave.replace_sealed_value(text, uuid, uuid, uuid, text, bytea, bytea)', 'system',
     'system_path_active; compare-and-swap of one sealed column, only with an envelope'),
    ('enclave.retire_vault_key(text)', 'system',
     'system_path_active; retires a key only when no value is sealed under it');
