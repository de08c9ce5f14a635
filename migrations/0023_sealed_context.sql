-- A tenant context that no SQL of the runtime role can forge (issue 14).
--
-- Until now the context was three transaction-local settings that anyone could write:
-- the runtime role (say, through an SQL injection) could `SET LOCAL enclave.org_id` to
-- another organization and read and write its rows, and could open the system path by
-- inserting a 'system' row into the audit log itself.
--
-- * The context is sealed. Only the functions that check a context before they enter it
--   (enter_context, enter_user, and the definer functions that enter an organization on
--   the audited system path) write it, through enclave.seal_context: besides the three
--   settings they write `enclave.context_seal`, an HMAC-SHA256 of the three values and of
--   this transaction (backend process and transaction start), under a key in
--   enclave.context_key that only the owner can read.
-- * The readers verify it. current_org_id() and current_user_id() run as the owner,
--   recompute the seal from the settings as they are now and return NULL when it differs:
--   a changed organization, user or client, a seal copied from another transaction, or no
--   seal at all. Every policy and router function reads the context through them, so a
--   forged context sees no rows and every write is refused (fail closed).
-- * The queue's plumbing is "no context settings at all" (as before for every honest
--   caller); a forged setting no longer falls back to it.
-- * The audit log takes no direct inserts from the runtime role: the system path opens
--   through enclave.open_system_path, which writes the row.
--
-- HMAC is built from the core sha256() with the key's inner and outer pads stored (no
-- extension needed, so the same works on every node of a cluster). The binding to the
-- transaction lives in enclave.context_binding(), the one function to replace where the
-- backend process is not the same on every node (docs/ARCHITECTURE.md, "Scaling out").

CREATE TABLE enclave.context_key (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    inner_pad  bytea NOT NULL CHECK (length(inner_pad) = 64),
    outer_pad  bytea NOT NULL CHECK (length(outer_pad) = 64),
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE enclave.context_key IS 'enclave:global the key that seals tenant contexts (HMAC-SHA256 pads); no tenant data, and the runtime role has no grant on it.';

-- A 32-byte key from two random UUIDs (244 random bits), zero-padded to SHA-256's
-- 64-byte block and xor-ed with the HMAC pads once, here.
DO $$
DECLARE
    v_key bytea := uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())
                   || decode(repeat('00', 32), 'hex');
    v_inner bytea := v_key;
    v_outer bytea := v_key;
BEGIN
    FOR i IN 0..63 LOOP
        v_inner := set_byte(v_inner, i, get_byte(v_key, i) # 54);   -- 0x36
        v_outer := set_byte(v_outer, i, get_byte(v_key, i) # 92);   -- 0x5c
    END LOOP;
    INSERT INTO enclave.context_key (inner_pad, outer_pad) VALUES (v_inner, v_outer);
END $$;

-- What ties a seal to one transaction: the same backend and the same transaction start.
CREATE FUNCTION enclave.context_binding() RETURNS text
    LANGUAGE sql STABLE PARALLEL RESTRICTED
    AS $$ SELECT pg_catalog.pg_backend_pid()::text || '@'
                 || pg_catalog.date_part('epoch', pg_catalog.transaction_timestamp())::text $$;

-- HMAC-SHA256(key, org / user / client / binding), hex. Internal: the owner's functions
-- call it; the runtime role can neither call it nor read the key.
CREATE FUNCTION enclave.context_seal_of(p_org text, p_user text, p_workspace text) RETURNS text
    LANGUAGE sql STABLE PARALLEL RESTRICTED
    AS $$ SELECT pg_catalog.encode(pg_catalog.sha256(k.outer_pad || pg_catalog.sha256(k.inner_pad
                 || pg_catalog.convert_to(p_org || '/' || p_user || '/' || p_workspace || '/'
                                          || enclave.context_binding(), 'UTF8'))), 'hex')
            FROM enclave.context_key k $$;

-- The four settings, written as given (restoring a saved context keeps its seal as it was:
-- a forged context stays forged).
CREATE FUNCTION enclave.put_context(p_org text, p_user text, p_workspace text, p_seal text) RETURNS void
    LANGUAGE plpgsql
    AS $$
    BEGIN
        PERFORM pg_catalog.set_config('enclave.org_id', coalesce(p_org, ''), true),
                pg_catalog.set_config('enclave.user_id', coalesce(p_user, ''), true),
                pg_catalog.set_config('enclave.workspace_id', coalesce(p_workspace, ''), true),
                pg_catalog.set_config('enclave.context_seal', coalesce(p_seal, ''), true);
    END $$;

-- Enters a context and seals it. Internal: callers check the context first.
CREATE FUNCTION enclave.seal_context(p_org uuid, p_user uuid, p_workspace uuid) RETURNS void
    LANGUAGE plpgsql
    AS $$
    DECLARE
        v_org text := coalesce(p_org::text, '');
        v_user text := coalesce(p_user::text, '');
        v_workspace text := coalesce(p_workspace::text, '');
    BEGIN
        -- One statement: the seal is the same expression the readers check.
        PERFORM pg_catalog.set_config('enclave.org_id', v_org, true),
                pg_catalog.set_config('enclave.user_id', v_user, true),
                pg_catalog.set_config('enclave.workspace_id', v_workspace, true),
                pg_catalog.set_config('enclave.context_seal', pg_catalog.encode(pg_catalog.sha256(k.outer_pad
                    || pg_catalog.sha256(k.inner_pad || pg_catalog.convert_to(v_org || '/' || v_user || '/'
                       || v_workspace || '/' || enclave.context_binding(), 'UTF8'))), 'hex'), true)
           FROM enclave.context_key k;
    END $$;

CREATE FUNCTION enclave.saved_context() RETURNS text[]
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT ARRAY[current_setting('enclave.org_id', true), current_setting('enclave.user_id', true),
                       current_setting('enclave.workspace_id', true), current_setting('enclave.context_seal', true)] $$;

CREATE FUNCTION enclave.restore_context(p_saved text[]) RETURNS void
    LANGUAGE sql SET search_path = pg_catalog, pg_temp
    AS $$ SELECT enclave.put_context(p_saved[1], p_saved[2], p_saved[3], p_saved[4]) $$;

-- The readers ---------------------------------------------------------------------------
-- Definer functions (to read the key), so the planner can no longer inline them; policies
-- already wrap them in (SELECT ...), evaluated once per statement.
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
                  FROM enclave.context_key k);
    END $$;

CREATE OR REPLACE FUNCTION enclave.current_user_id() RETURNS uuid
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

-- No context settings at all (underway's own transactions, the system path). A setting
-- that does not verify is a context, not the plumbing: it sees nothing.
CREATE OR REPLACE FUNCTION enclave.queue_plumbing() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(pg_catalog.current_setting('enclave.org_id', true), '') = ''
             AND coalesce(pg_catalog.current_setting('enclave.user_id', true), '') = ''
             AND coalesce(pg_catalog.current_setting('enclave.workspace_id', true), '') = '' $$;

-- Entering a context ----------------------------------------------------------------------
-- As before (0001), now as the owner so it can seal: the checks run in the sealed context
-- and an error undoes it with the transaction.
CREATE OR REPLACE FUNCTION enclave.enter_context(p_org uuid, p_workspace uuid, p_user uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        IF p_org IS NULL OR p_user IS NULL THEN
            RAISE EXCEPTION 'tenant context needs an organization and a user'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
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

CREATE OR REPLACE FUNCTION enclave.enter_user(p_user uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        IF p_user IS NULL THEN
            RAISE EXCEPTION 'a user context needs a user' USING ERRCODE = 'insufficient_privilege';
        END IF;
        PERFORM enclave.seal_context(NULL, p_user, NULL);
        IF NOT EXISTS (SELECT 1 FROM public.users u WHERE u.id = p_user) THEN
            RAISE EXCEPTION 'unknown user' USING ERRCODE = 'insufficient_privilege';
        END IF;
    END $$;

-- The system path opens here, and only here. Its row names who and why, as before. An
-- admin's row ('admin:<user>') is written only by admin_begin, which checks the grant and
-- the sign-in first: require_admin() trusts the first system row of the transaction.
CREATE FUNCTION enclave.open_system_path(p_actor text, p_action text, p_detail jsonb) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        IF p_actor LIKE 'admin:%' THEN
            RAISE EXCEPTION 'the admin console opens only through admin_begin'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        INSERT INTO enclave.audit_log (path, actor, action, detail)
             VALUES ('system', p_actor, p_action, coalesce(p_detail, '{}'::jsonb));
    END $$;
REVOKE INSERT ON enclave.audit_log FROM enclave_runtime;
COMMENT ON TABLE enclave.audit_log IS 'enclave:global append-only log of system-path uses and tenant changes; the runtime role can neither read nor write it, only call the definer functions that append to it.';

-- Definer functions that enter a context of their choosing, now sealed -------------------
CREATE OR REPLACE FUNCTION enclave.insert_organization(p_kind text, p_name text, p_slug text, p_owner uuid)
    RETURNS uuid
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_org uuid := gen_random_uuid();
        v_saved text[] := enclave.saved_context();
    BEGIN
        PERFORM enclave.seal_context(v_org, p_owner, NULL);
        INSERT INTO public.organizations (id, kind, name, slug) VALUES (v_org, p_kind, p_name, p_slug);
        INSERT INTO public.memberships (org_id, user_id, role) VALUES (v_org, p_owner, 'owner');
        PERFORM enclave.restore_context(v_saved);
        RETURN v_org;
    END $$;

-- Runs in the invitee's user context; the organization is entered, sealed, for the
-- invitation's own statements (the invitee is not a member yet) and left after.
CREATE OR REPLACE FUNCTION enclave.accept_invitation(p_org uuid, p_invitation uuid, p_token_hash bytea)
    RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_user uuid := enclave.current_user_id();
        v_inv public.invitations%ROWTYPE;
    BEGIN
        IF v_user IS NULL THEN
            RAISE EXCEPTION 'sign in first' USING ERRCODE = 'insufficient_privilege';
        END IF;
        PERFORM enclave.seal_context(p_org, v_user, NULL);
        PERFORM set_config('enclave.invitation_token', coalesce(encode(p_token_hash, 'hex'), ''), true);
        SELECT * INTO v_inv FROM public.invitations i
         WHERE i.org_id = p_org AND i.invitation_id = p_invitation FOR UPDATE;
        IF v_inv.invitation_id IS NULL OR v_inv.token_hash IS DISTINCT FROM p_token_hash THEN
            RAISE EXCEPTION 'This invitation link is not valid. Check that you copied all of it.'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF v_inv.accepted_at IS NOT NULL THEN
            RAISE EXCEPTION 'This invitation has already been used.'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF v_inv.revoked_at IS NOT NULL THEN
            RAISE EXCEPTION 'This invitation was withdrawn. Ask for a new one.'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF v_inv.expires_at <= now() THEN
            RAISE EXCEPTION 'This invitation has expired. Ask for a new one.'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF NOT v_inv.any_email AND NOT EXISTS (
                SELECT 1 FROM public.user_identities i
                 WHERE i.user_id = v_user AND i.email_verified AND lower(i.email) = v_inv.email) THEN
            RAISE EXCEPTION 'This invitation was sent to %. Sign in with an account whose verified email is that address, or ask the person who invited you to allow any address.', v_inv.email
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF EXISTS (SELECT 1 FROM public.memberships m WHERE m.org_id = p_org AND m.user_id = v_user) THEN
            RAISE EXCEPTION 'You are already a member of this organization.'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        INSERT INTO public.memberships (org_id, user_id, role) VALUES (p_org, v_user, v_inv.role);
        UPDATE public.invitations SET accepted_at = now(), accepted_by = v_user
         WHERE org_id = p_org AND invitation_id = p_invitation;
        PERFORM enclave.audit_tenant('accept invitation',
            jsonb_build_object('invitation_id', p_invitation, 'role', v_inv.role));
        PERFORM set_config('enclave.invitation_token', '', true);
        PERFORM enclave.seal_context(NULL, v_user, NULL);
        RETURN p_org;
    END $$;

CREATE OR REPLACE FUNCTION enclave.dev_demo_accounts()
    RETURNS TABLE (user_id uuid, email text, display_name text, org_id uuid,
                   org_name text, org_kind text, role text)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_org record;
        v_saved text[] := enclave.saved_context();
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM enclave.instance WHERE environment = 'development') THEN
            RAISE EXCEPTION 'demo sign-in exists only in a development database'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        INSERT INTO enclave.audit_log (path, actor, action)
             VALUES ('system', 'demo-sign-in', 'list demo accounts');
        FOR v_org IN SELECT o.id, o.name, o.kind FROM public.organizations o ORDER BY o.name LOOP
            PERFORM enclave.seal_context(v_org.id, NULL, NULL);
            RETURN QUERY
                SELECT u.id, u.email, u.display_name, v_org.id, v_org.name, v_org.kind, m.role
                  FROM public.memberships m JOIN public.users u ON u.id = m.user_id
                 WHERE m.org_id = v_org.id
                 ORDER BY u.display_name;
        END LOOP;
        PERFORM enclave.restore_context(v_saved);
    END $$;

CREATE OR REPLACE FUNCTION enclave.billable_seats(p_org uuid) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_saved text[] := enclave.saved_context();
        v_count integer;
    BEGIN
        PERFORM enclave.require_system_path('count an organization''s seats');
        PERFORM enclave.seal_context(p_org, NULL, NULL);
        SELECT count(*) INTO v_count FROM public.memberships m WHERE m.org_id = p_org;
        PERFORM enclave.restore_context(v_saved);
        RETURN v_count;
    END $$;

CREATE OR REPLACE FUNCTION enclave.seat_drift(p_limit integer)
    RETURNS TABLE (org_id uuid, stripe_customer_id text, stripe_subscription_id text,
                   seat_quantity integer, members integer, synced_at timestamptz)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_saved text[] := enclave.saved_context();
        r record;
        v_members integer;
    BEGIN
        PERFORM enclave.require_system_path('compare billed seats with members');
        FOR r IN SELECT b.org_id, b.stripe_customer_id, b.stripe_subscription_id, b.seat_quantity, b.synced_at
                   FROM public.org_billing b JOIN enclave.plans p ON p.plan_id = b.plan_id
                  WHERE p.per_seat AND b.status IN ('trialing', 'active', 'past_due')
                    AND b.stripe_subscription_id IS NOT NULL
                  ORDER BY b.seat_sync_failed_at NULLS FIRST, b.org_id
        LOOP
            PERFORM enclave.seal_context(r.org_id, NULL, NULL);
            SELECT count(*) INTO v_members FROM public.memberships m WHERE m.org_id = r.org_id;
            IF r.seat_quantity IS DISTINCT FROM v_members THEN
                org_id := r.org_id;
                stripe_customer_id := r.stripe_customer_id;
                stripe_subscription_id := r.stripe_subscription_id;
                seat_quantity := r.seat_quantity;
                members := v_members;
                synced_at := r.synced_at;
                RETURN NEXT;
                p_limit := p_limit - 1;
                EXIT WHEN p_limit <= 0;
            END IF;
        END LOOP;
        PERFORM enclave.restore_context(v_saved);
    END $$;

CREATE OR REPLACE FUNCTION enclave.admin_org_usage(p_orgs uuid[])
    RETURNS TABLE (org_id uuid, members bigint, pending_invitations bigint,
                   open_clients bigint, outputs_this_period bigint)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_saved text[] := enclave.saved_context();
        v_org uuid;
        v_owner uuid;
    BEGIN
        PERFORM enclave.require_admin();
        IF coalesce(array_length(p_orgs, 1), 0) > 200 THEN
            RAISE EXCEPTION 'at most 200 organizations at a time' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        FOREACH v_org IN ARRAY coalesce(p_orgs, '{}') LOOP
            PERFORM enclave.seal_context(v_org, NULL, NULL);
            SELECT m.user_id INTO v_owner FROM public.memberships m
             WHERE m.org_id = v_org AND m.role = 'owner' ORDER BY m.created_at LIMIT 1;
            PERFORM enclave.seal_context(v_org, v_owner, NULL);
            org_id := v_org;
            SELECT count(*) INTO members FROM public.memberships m WHERE m.org_id = v_org;
            SELECT count(*) INTO pending_invitations FROM public.invitations i
             WHERE i.org_id = v_org AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > now();
            SELECT count(*) INTO open_clients FROM agency.client_workspaces w
             WHERE w.org_id = v_org AND w.archived_at IS NULL;
            SELECT coalesce((SELECT u.outputs FROM public.usage_counters u
                              WHERE u.org_id = v_org AND u.period_start = enclave.current_period_start()), 0)
              INTO outputs_this_period;
            RETURN NEXT;
        END LOOP;
        PERFORM enclave.restore_context(v_saved);
    END $$;

CREATE OR REPLACE FUNCTION enclave.admin_retry_task(p_queue text, p_task uuid) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_saved text[] := enclave.saved_context();
        v_task underway.task%ROWTYPE;
        v_base text;
        v_path text;
        v_org uuid;
        v_workspace uuid;
        v_user uuid;
        v_job uuid;
        v_new uuid := gen_random_uuid();
    BEGIN
        PERFORM enclave.require_admin();
        SELECT t.* INTO v_task FROM underway.task t
         WHERE t.task_queue_name = p_queue AND t.id = p_task AND t.state = 'failed'
           FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'that job is no longer failed: it was retried already or removed'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        v_base := regexp_replace(p_queue, '\.dead$', '');
        SELECT q.path INTO v_path FROM enclave.job_queues q WHERE q.name = v_base;
        IF v_path IS NULL OR v_base LIKE '%.dead' THEN
            RAISE EXCEPTION 'queue % is not a registered job queue', v_base
                USING ERRCODE = 'invalid_parameter_value';
        END IF;

        IF v_path = 'tenant' THEN
            v_org := (v_task.input #>> '{tenant,org}')::uuid;
            v_workspace := (v_task.input #>> '{tenant,workspace}')::uuid;
            v_job := (v_task.input ->> 'job')::uuid;
            PERFORM enclave.seal_context(v_org, NULL, NULL);
            SELECT m.user_id INTO v_user FROM public.memberships m
             WHERE m.org_id = v_org
             ORDER BY m.user_id = (v_task.input #>> '{tenant,user}')::uuid DESC,
                      m.role = 'owner' DESC, m.created_at
             LIMIT 1;
            IF v_user IS NULL THEN
                RAISE EXCEPTION 'the organization this job belongs to has no members left to run it'
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            PERFORM enclave.seal_context(v_org, v_user, v_workspace);
            IF v_workspace IS NOT NULL AND enclave.current_workspace_id() IS NULL THEN
                RAISE EXCEPTION 'the client workspace this job belongs to is archived, or the person who started the job can no longer open it'
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            IF v_job IS NOT NULL THEN
                -- Refused (40001) unless the job is failed: the tenant's Retry got there first.
                PERFORM enclave.set_job_status(v_job, 'queued', NULL, NULL);
            END IF;
        END IF;

        -- The trigger stamps a tenant task from the context just entered (and strips any
        -- stamp from a system task).
        INSERT INTO underway.task (id, task_queue_name, input, timeout, heartbeat, ttl,
                                   retry_policy, concurrency_key, priority)
             VALUES (v_new, v_base, v_task.input - 'tenant', v_task.timeout, v_task.heartbeat,
                     v_task.ttl, v_task.retry_policy, v_task.concurrency_key, v_task.priority);

        PERFORM enclave.restore_context(v_saved);
        UPDATE underway.task SET state = 'cancelled', updated_at = now(), completed_at = now()
         WHERE task_queue_name = p_queue AND id = p_task;
        RETURN v_new;
    END $$;

GRANT EXECUTE ON FUNCTION enclave.open_system_path(text, text, jsonb) TO enclave_runtime;
INSERT INTO enclave.definer_registry (function, path, rules) VALUES
    ('enclave.current_org_id()', 'context',
        'returns the organization only when the context seal verifies for this transaction; reads, never writes'),
    ('enclave.current_user_id()', 'context',
        'returns the user only when the context seal verifies for this transaction; reads, never writes'),
    ('enclave.enter_context(uuid, uuid, uuid)', 'context',
        'seals the context, then refuses a non-member and a client workspace the user may not open'),
    ('enclave.enter_user(uuid)', 'context', 'seals a user-only context; refuses an unknown user'),
    ('enclave.open_system_path(text, text, jsonb)', 'system',
        'writes the transaction''s ''system'' audit row naming the actor and why: the only way the system path opens; refuses an admin actor (admin_begin''s alone)');
