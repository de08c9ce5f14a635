-- Entering a context takes a proof from the server's memory (issue 14).
--
-- Since 0023 only the verifying functions can produce a context the policies accept. But
-- those functions took bare ids: SQL running as the runtime role (an SQL injection) could
-- read a signed-in user's id from the session store, find one of their organizations,
-- and call enter_context itself; admin_begin with a platform admin's id opened the admin
-- console, and open_system_path opened the system path. Ids are not secrets.
--
-- Now each of those doors also takes a proof: HMAC-SHA256 under a key derived from the
-- server's sealing key (ENCLAVE_SECRET_KEYS; never sent to the database by the server),
-- over what the caller asks for: `user/<id>` to act as a user (enter_user, enter_context
-- and the functions built on them, admin_begin) and `system` to open the system path.
-- The proof is written `<key id>/<hex>` (not with a colon: SQL tools such as pgbench
-- read `:name` as a variable). The database checks it against enclave.context_proof_keys,
-- an owner-only copy of the derived keys that `enclave migrate` writes from its own
-- configuration (rows are not part of this migration).
-- A proof names a user, not an organization: the membership and the client assignment
-- are still the database's checks, as before. The runtime role cannot compute a proof,
-- so it cannot act as anyone the server is not acting for.

CREATE TABLE enclave.context_proof_keys (
    key_id       text PRIMARY KEY CHECK (key_id ~ '^[A-Za-z0-9._-]{1,32}$'),
    inner_pad    bytea NOT NULL CHECK (length(inner_pad) = 64),
    outer_pad    bytea NOT NULL CHECK (length(outer_pad) = 64),
    installed_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE enclave.context_proof_keys IS 'enclave:global the keys context proofs are checked with (HMAC-SHA256 pads, derived from ENCLAVE_SECRET_KEYS and written by enclave migrate); no tenant data, and the runtime role has no grant on it.';

-- Whether p_proof is the proof of p_message under one of the installed keys. Internal:
-- the definer functions below call it; the runtime role cannot.
CREATE FUNCTION enclave.proof_holds(p_message text, p_proof text) RETURNS boolean
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_key_id text := split_part(coalesce(p_proof, ''), '/', 1);
        v_mac text := split_part(coalesce(p_proof, ''), '/', 2);
    BEGIN
        RETURN coalesce((SELECT encode(sha256(k.outer_pad || sha256(k.inner_pad
                                       || convert_to(p_message, 'UTF8'))), 'hex') = v_mac
                           FROM enclave.context_proof_keys k WHERE k.key_id = v_key_id), false);
    END $$;

CREATE FUNCTION enclave.require_proof(p_message text, p_proof text) RETURNS void
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        IF NOT enclave.proof_holds(p_message, p_proof) THEN
            RAISE EXCEPTION 'this context was not asked for by the server (no valid proof)'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END $$;

-- For the server's start-up check: does the database hold the server's key? Answers
-- only whether a proof of the fixed message 'check' holds, which reveals nothing else.
CREATE FUNCTION enclave.context_key_installed(p_proof text) RETURNS boolean
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN RETURN enclave.proof_holds('check', p_proof); END $$;

-- The doors, each now with its proof. The old signatures go: a function that does not
-- ask for a proof must not be left for the runtime role to call.
DELETE FROM enclave.definer_registry
 WHERE function IN ('enclave.enter_context(uuid, uuid, uuid)'::regprocedure,
                    'enclave.enter_user(uuid)'::regprocedure,
                    'enclave.open_system_path(text, text, jsonb)'::regprocedure,
                    'enclave.admin_begin(uuid, timestamptz, boolean, text, uuid, jsonb)'::regprocedure);
DROP FUNCTION enclave.enter_context(uuid, uuid, uuid);
DROP FUNCTION enclave.enter_user(uuid);
DROP FUNCTION enclave.open_system_path(text, text, jsonb);
DROP FUNCTION enclave.admin_begin(uuid, timestamptz, boolean, text, uuid, jsonb);
DROP FUNCTION enclave.read_brand_guidelines(uuid, uuid, uuid);
DROP FUNCTION enclave.resolve_context(uuid, uuid, uuid);
DROP FUNCTION enclave.page_context(uuid, uuid, text);

CREATE FUNCTION enclave.enter_context(p_org uuid, p_workspace uuid, p_user uuid, p_proof text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        IF p_org IS NULL OR p_user IS NULL THEN
            RAISE EXCEPTION 'tenant context needs an organization and a user'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        PERFORM enclave.require_proof('user/' || p_user::text, p_proof);
        PERFORM enclave.seal_context(p_org, p_user, p_workspace);
        IF NOT EXISTS (SELECT 1 FROM public.memberships m
                        WHERE m.org_id = p_org AND m.user_id = p_user) THEN
            RAISE EXCEPTION 'user is not a member of this organization'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF p_workspace IS NOT NULL AND enclave.current_workspace_id() IS NULL THEN
            RAISE EXCEPTION 'client workspace is not available to this user'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END $$;

CREATE FUNCTION enclave.enter_user(p_user uuid, p_proof text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        IF p_user IS NULL THEN
            RAISE EXCEPTION 'a user context needs a user' USING ERRCODE = 'insufficient_privilege';
        END IF;
        PERFORM enclave.require_proof('user/' || p_user::text, p_proof);
        PERFORM enclave.seal_context(NULL, p_user, NULL);
        IF NOT EXISTS (SELECT 1 FROM public.users u WHERE u.id = p_user) THEN
            RAISE EXCEPTION 'unknown user' USING ERRCODE = 'insufficient_privilege';
        END IF;
    END $$;

CREATE FUNCTION enclave.open_system_path(p_actor text, p_action text, p_detail jsonb, p_proof text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        IF p_actor LIKE 'admin:%' THEN
            RAISE EXCEPTION 'the admin console opens only through admin_begin'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        PERFORM enclave.require_proof('system', p_proof);
        INSERT INTO enclave.audit_log (path, actor, action, detail)
             VALUES ('system', p_actor, p_action, coalesce(p_detail, '{}'::jsonb));
    END $$;

CREATE FUNCTION enclave.admin_begin(p_user uuid, p_signed_in_at timestamptz, p_change boolean,
                                    p_action text, p_org uuid, p_detail jsonb, p_proof text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        IF enclave.current_org_id() IS NOT NULL OR enclave.system_path_active() THEN
            RAISE EXCEPTION 'admin_begin must be the first statement of its own transaction'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        PERFORM enclave.require_proof('user/' || p_user::text, p_proof);
        -- The transaction's system row: from here on system_path_active() holds, and the
        -- log names the admin (a refusal below rolls it back with everything else).
        INSERT INTO enclave.audit_log (path, actor, action, org_id, detail)
             VALUES ('system', 'admin:' || p_user::text, left(coalesce(p_action, 'admin'), 200), p_org,
                     coalesce(p_detail, '{}'::jsonb) || jsonb_build_object('change', coalesce(p_change, false)));
        IF NOT EXISTS (SELECT 1 FROM enclave.platform_admins a
                        WHERE a.user_id = p_user AND a.revoked_at IS NULL) THEN
            RAISE EXCEPTION 'only platform admins can open the admin console'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF p_change AND (p_signed_in_at IS NULL OR p_signed_in_at <= now() - interval '15 minutes') THEN
            RAISE EXCEPTION 'changes in the admin console need a sign-in from the last 15 minutes'
                USING ERRCODE = 'EN401';
        END IF;
    END $$;

-- As in 0001, with the proof passed through.
CREATE FUNCTION enclave.read_brand_guidelines(p_org uuid, p_workspace uuid, p_user uuid, p_proof text)
    RETURNS SETOF public.brand_guidelines_unified
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        PERFORM enclave.enter_context(p_org, p_workspace, p_user, p_proof);
        RETURN QUERY SELECT * FROM public.brand_guidelines_unified;
    END $$;

CREATE FUNCTION enclave.resolve_context(p_org uuid, p_workspace uuid, p_user uuid, p_proof text)
    RETURNS TABLE (org_id uuid, org_name text, org_kind text, role text,
                   workspace_id uuid, workspace_name text, user_name text, user_email text)
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        PERFORM enclave.enter_context(p_org, p_workspace, p_user, p_proof);
        RETURN QUERY SELECT * FROM enclave.describe_context();
    END $$;

-- As in 0026, with the proof passed through.
CREATE FUNCTION enclave.page_context(p_user uuid, p_org uuid, p_client_slug text, p_proof text)
    RETURNS TABLE (user_name text, user_email text, organizations jsonb,
                   org_id uuid, org_name text, org_kind text, role text, clients jsonb,
                   workspace_id uuid, workspace_name text)
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_org jsonb;
        v_workspace uuid;
        v_workspace_name text;
    BEGIN
        PERFORM enclave.enter_user(p_user, p_proof);
        SELECT u.display_name, u.email INTO user_name, user_email
          FROM public.users u WHERE u.id = p_user;
        SELECT coalesce(jsonb_agg(jsonb_build_object('org_id', o.id, 'name', o.name,
                                                     'kind', o.kind, 'role', m.role)
                                  ORDER BY o.name, o.id), '[]'::jsonb)
          INTO organizations
          FROM public.memberships m JOIN public.organizations o ON o.id = m.org_id
         WHERE m.user_id = p_user;
        clients := '[]'::jsonb;
        SELECT e INTO v_org FROM jsonb_array_elements(organizations) e
         WHERE (e ->> 'org_id')::uuid = p_org;
        IF v_org IS NULL THEN
            RETURN NEXT;
            RETURN;
        END IF;
        PERFORM enclave.enter_context(p_org, NULL, p_user, p_proof);
        org_id := p_org;
        org_name := v_org ->> 'name';
        org_kind := v_org ->> 'kind';
        role := v_org ->> 'role';
        IF org_kind = 'agency' THEN
            SELECT coalesce(jsonb_agg(jsonb_build_object('workspace_id', w.workspace_id,
                                                         'name', w.name, 'slug', w.slug)
                                      ORDER BY w.name, w.workspace_id), '[]'::jsonb),
                   (array_agg(w.workspace_id) FILTER (WHERE w.slug = p_client_slug))[1],
                   (array_agg(w.name) FILTER (WHERE w.slug = p_client_slug))[1]
              INTO clients, v_workspace, v_workspace_name
              FROM agency.client_workspaces w
             WHERE w.org_id = p_org AND w.archived_at IS NULL;
            IF v_workspace IS NOT NULL THEN
                -- Archived or unassigned since the list was read: the answer is "not
                -- open to you", in the organization's context (the failed entry's
                -- settings go with its subtransaction).
                BEGIN
                    PERFORM enclave.enter_context(p_org, v_workspace, p_user, p_proof);
                    workspace_id := v_workspace;
                    workspace_name := v_workspace_name;
                EXCEPTION WHEN insufficient_privilege THEN
                    NULL;
                END;
            END IF;
        END IF;
        RETURN NEXT;
    END $$;

GRANT EXECUTE ON FUNCTION
    enclave.context_key_installed(text),
    enclave.enter_context(uuid, uuid, uuid, text),
    enclave.enter_user(uuid, text),
    enclave.open_system_path(text, text, jsonb, text),
    enclave.admin_begin(uuid, timestamptz, boolean, text, uuid, jsonb, text),
    enclave.read_brand_guidelines(uuid, uuid, uuid, text),
    enclave.resolve_context(uuid, uuid, uuid, text),
    enclave.page_context(uuid, uuid, text, text)
    TO enclave_runtime;

INSERT INTO enclave.definer_registry (function, path, rules) VALUES
    ('enclave.enter_context(uuid, uuid, uuid, text)', 'context',
     'refuses without the server''s proof for the user; seals the context, then refuses a non-member and a client workspace the user may not open'),
    ('enclave.enter_user(uuid, text)', 'context',
     'refuses without the server''s proof for the user; seals a user-only context; refuses an unknown user'),
    ('enclave.open_system_path(text, text, jsonb, text)', 'system',
     'refuses an admin actor (admin_begin''s alone) and a caller without the server''s system proof; writes the transaction''s ''system'' audit row naming the actor and why: the only way the system path opens'),
    ('enclave.admin_begin(uuid, timestamptz, boolean, text, uuid, jsonb, text)', 'system',
     'first statement of its transaction, outside any tenant context; refuses without the server''s proof for the user; writes the system audit row naming the admin, then refuses a user without an unrevoked grant, and a change without a sign-in from the last 15 minutes'),
    ('enclave.context_key_installed(text)', 'context',
     'answers whether a proof of the fixed message ''check'' holds (the server''s start-up check); reads, never writes');
