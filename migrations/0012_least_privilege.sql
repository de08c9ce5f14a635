-- Least privilege for the runtime role: the first migration's definer functions follow
-- the rules of the later ones, every definer function the runtime role may execute is
-- registered with its path and rules, and rows are visible only to the roles they are
-- for (invitations to managers, queue rows to their own organization and client).
--
-- * 0001's create_user, create_organization (with a chosen slug), add_member,
--   create_client_workspace and assign_client enforced none of the rules added later:
--   an admin of one organization could make a user of another its owner, with no
--   invitation and no audit row. They serve seeding and tests, which run on the audited
--   system path, so they now refuse anywhere else and write a system audit row naming
--   what they did. Onboarding keeps its own path (an internal helper the runtime role
--   cannot call).
-- * enclave.definer_registry lists every SECURITY DEFINER function the runtime role may
--   execute, with its path and the rules it enforces; `enclave audit` fails on one that
--   is missing (docs/ARCHITECTURE.md, "Where each invariant is enforced").
-- * Invitations hold emails and token hashes: only owners and admins see them, and the
--   invitee only the one invitation whose secret they present.
-- * underway's tables: a tenant context sees the tasks (and attempts) of its own
--   organization and client only, a user-only context none, and the queue's plumbing
--   (no context at all: dequeue, heartbeats, retries, schedules, the system path) the
--   whole queue. Schedules belong to the plumbing alone.

-- System-path helpers (not granted: only definer functions call them) -------------------
CREATE FUNCTION enclave.require_system_path(p_action text) RETURNS void
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        IF NOT enclave.system_path_active() THEN
            RAISE EXCEPTION 'only the audited system path can %', p_action
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END $$;

-- The actor is the one the transaction's own system row names (the command or job that
-- opened the system path), so the two rows read as one story in the log.
CREATE FUNCTION enclave.audit_system(p_action text, p_org uuid, p_detail jsonb) RETURNS void
    LANGUAGE sql SET search_path = pg_catalog, pg_temp
    AS $$
        INSERT INTO enclave.audit_log (path, actor, action, org_id, detail)
        SELECT 'system',
               coalesce((SELECT a.actor FROM enclave.audit_log a
                          WHERE a.xact_id = pg_current_xact_id() AND a.path = 'system'
                          ORDER BY a.id LIMIT 1), 'system'),
               p_action, p_org, coalesce(p_detail, '{}'::jsonb)
    $$;

-- 0001's functions, on the system path only ----------------------------------------------
CREATE OR REPLACE FUNCTION enclave.create_user(p_email text, p_display_name text) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE v_id uuid;
    BEGIN
        PERFORM enclave.require_system_path('create users');
        INSERT INTO public.users (email, display_name) VALUES (p_email, p_display_name)
            RETURNING id INTO v_id;
        PERFORM enclave.audit_system('create user on the system path', NULL,
            jsonb_build_object('user_id', v_id, 'email', p_email));
        RETURN v_id;
    END $$;

-- Inserts an organization and its first owner. Internal: onboarding (the signed-in user
-- becomes the owner) and the system path call it; the runtime role cannot.
CREATE FUNCTION enclave.insert_organization(p_kind text, p_name text, p_slug text, p_owner uuid)
    RETURNS uuid
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_org uuid := gen_random_uuid();
        v_prev_org text := current_setting('enclave.org_id', true);
        v_prev_user text := current_setting('enclave.user_id', true);
        v_prev_ws text := current_setting('enclave.workspace_id', true);
    BEGIN
        PERFORM set_config('enclave.org_id', v_org::text, true);
        PERFORM set_config('enclave.user_id', p_owner::text, true);
        INSERT INTO public.organizations (id, kind, name, slug) VALUES (v_org, p_kind, p_name, p_slug);
        INSERT INTO public.memberships (org_id, user_id, role) VALUES (v_org, p_owner, 'owner');
        PERFORM set_config('enclave.org_id', coalesce(v_prev_org, ''), true);
        PERFORM set_config('enclave.user_id', coalesce(v_prev_user, ''), true);
        PERFORM set_config('enclave.workspace_id', coalesce(v_prev_ws, ''), true);
        RETURN v_org;
    END $$;

CREATE OR REPLACE FUNCTION enclave.create_organization(p_kind text, p_name text, p_slug text, p_owner uuid)
    RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE v_org uuid;
    BEGIN
        PERFORM enclave.require_system_path('create an organization with a chosen address');
        v_org := enclave.insert_organization(p_kind, enclave.check_org_name(p_name), p_slug, p_owner);
        PERFORM enclave.audit_system('create organization with a chosen address', v_org,
            jsonb_build_object('kind', p_kind, 'slug', p_slug, 'owner', p_owner));
        RETURN v_org;
    END $$;

-- As in 0003, with the organization inserted by the internal helper.
CREATE OR REPLACE FUNCTION enclave.onboard_organization(p_kind text, p_name text) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_user uuid := enclave.current_user_id();
        v_base text := left(trim(BOTH '-' FROM regexp_replace(lower(coalesce(p_name, '')), '[^a-z0-9]+', '-', 'g')), 40);
        v_slug text;
        v_org  uuid;
    BEGIN
        IF v_user IS NULL THEN
            RAISE EXCEPTION 'sign in first' USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF p_kind IS NULL OR p_kind NOT IN ('sme', 'agency') THEN
            RAISE EXCEPTION 'choose whether the organization is a business (SME) or an agency'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM enclave.check_org_name(p_name);
        IF length(v_base) < 2 THEN
            v_base := 'org';
        END IF;
        FOR attempt IN 1..5 LOOP
            v_slug := CASE WHEN attempt = 1 THEN v_base
                           ELSE v_base || '-' || substr(md5(random()::text), 1, 6) END;
            BEGIN
                v_org := enclave.insert_organization(p_kind, btrim(p_name), v_slug, v_user);
                EXIT;
            EXCEPTION WHEN unique_violation THEN
                v_org := NULL;
            END;
        END LOOP;
        IF v_org IS NULL THEN
            RAISE EXCEPTION 'could not find a free address for this organization; try another name'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        INSERT INTO enclave.audit_log (path, actor, action, org_id, detail)
             VALUES ('tenant', v_user::text, 'create organization', v_org,
                     jsonb_build_object('kind', p_kind, 'name', btrim(p_name)));
        RETURN v_org;
    END $$;

-- Membership without an invitation: seeding only. People join through invitations.
CREATE OR REPLACE FUNCTION enclave.add_member(p_user uuid, p_role text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE v_org uuid := enclave.current_org_id();
    BEGIN
        PERFORM enclave.require_system_path('add a member without an invitation');
        IF v_org IS NULL THEN
            RAISE EXCEPTION 'enter the organization first' USING ERRCODE = 'insufficient_privilege';
        END IF;
        INSERT INTO public.memberships (org_id, user_id, role) VALUES (v_org, p_user, p_role);
        PERFORM enclave.audit_system('add member without an invitation', v_org,
            jsonb_build_object('user_id', p_user, 'role', p_role));
    END $$;

-- A client with a chosen slug: seeding only. Agencies add clients with add_client (0008).
CREATE OR REPLACE FUNCTION enclave.create_client_workspace(p_name text, p_slug text) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE v_org uuid; v_id uuid;
    BEGIN
        PERFORM enclave.require_system_path('create a client with a chosen address');
        v_org := enclave.require_agency();
        INSERT INTO agency.client_workspaces (org_id, name, slug)
             VALUES (v_org, enclave.check_client_name(p_name), p_slug)
          RETURNING workspace_id INTO v_id;
        PERFORM enclave.audit_system('add client with a chosen address', v_org,
            jsonb_build_object('workspace_id', v_id, 'slug', p_slug));
        RETURN v_id;
    END $$;

-- Seeding only. Agencies assign staff with set_client_assignment (0008).
CREATE OR REPLACE FUNCTION enclave.assign_client(p_workspace uuid, p_user uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE v_org uuid;
    BEGIN
        PERFORM enclave.require_system_path('assign staff');
        v_org := enclave.require_agency();
        INSERT INTO agency.client_assignments (org_id, workspace_id, user_id)
             VALUES (v_org, p_workspace, p_user)
        ON CONFLICT DO NOTHING;
        PERFORM enclave.audit_system('assign client on the system path', v_org,
            jsonb_build_object('workspace_id', p_workspace, 'user_id', p_user));
    END $$;

-- Reads through the row-level-secured view and saves through save_brand_guidelines,
-- both of which the runtime role may use itself: the owner's rights add nothing.
ALTER FUNCTION enclave.restore_brand_guidelines(integer, integer) SECURITY INVOKER;

-- Invitations: managers only --------------------------------------------------------------
-- The hash of the secret the invitee presents, set by accept_invitation for its own
-- statements. Knowing it means holding the link, so it shows that one invitation only.
CREATE FUNCTION enclave.presented_invitation_token() RETURNS bytea
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT decode(NULLIF(pg_catalog.current_setting('enclave.invitation_token', true), ''), 'hex') $$;

DROP POLICY invitations_org ON public.invitations;
CREATE POLICY invitations_managers ON public.invitations
    USING (org_id = (SELECT enclave.current_org_id())
           AND ((SELECT enclave.current_member_role()) IN ('owner', 'admin')
                OR token_hash = (SELECT enclave.presented_invitation_token())))
    WITH CHECK (org_id = (SELECT enclave.current_org_id())
           AND ((SELECT enclave.current_member_role()) IN ('owner', 'admin')
                OR token_hash = (SELECT enclave.presented_invitation_token())));

-- As in 0003, presenting the secret's hash so the invitee (not a member yet) can see the
-- invitation it names, and nothing else.
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
        PERFORM set_config('enclave.org_id', coalesce(p_org::text, ''), true);
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
        PERFORM set_config('enclave.org_id', '', true);
        RETURN p_org;
    END $$;

-- The job queue ----------------------------------------------------------------------------
-- No organization and no user: underway's own transactions (dequeue, heartbeats, retries,
-- the scheduler) and the system path. A user-only context is not the plumbing.
CREATE FUNCTION enclave.queue_plumbing() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT enclave.current_org_id() IS NULL AND enclave.current_user_id() IS NULL $$;

DROP POLICY task_scope ON underway.task;
CREATE POLICY task_scope ON underway.task
    USING ((SELECT enclave.queue_plumbing())
           OR ((input #>> '{tenant,org}')::uuid = (SELECT enclave.current_org_id())
               AND (input #>> '{tenant,workspace}')::uuid IS NOT DISTINCT FROM (SELECT enclave.current_workspace_id())))
    WITH CHECK ((SELECT enclave.queue_plumbing())
           OR ((input #>> '{tenant,org}')::uuid = (SELECT enclave.current_org_id())
               AND (input #>> '{tenant,workspace}')::uuid IS NOT DISTINCT FROM (SELECT enclave.current_workspace_id())));

-- An attempt carries its task's tenant, copied from the task's stamp when the attempt is
-- written (underway writes attempts in the plumbing, and in the job's own context when it
-- marks one succeeded), so its policy compares columns. Never changed afterwards.
ALTER TABLE underway.task_attempt ADD COLUMN org_id uuid, ADD COLUMN workspace_id uuid;
UPDATE underway.task_attempt a
   SET org_id = (t.input #>> '{tenant,org}')::uuid,
       workspace_id = (t.input #>> '{tenant,workspace}')::uuid
  FROM underway.task t
 WHERE t.task_queue_name = a.task_queue_name AND t.id = a.task_id;

-- A task this context cannot see leaves the tenant empty, and the policy refuses the row.
CREATE FUNCTION enclave.stamp_task_attempt() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            NEW.org_id := OLD.org_id;
            NEW.workspace_id := OLD.workspace_id;
            RETURN NEW;
        END IF;
        SELECT (t.input #>> '{tenant,org}')::uuid, (t.input #>> '{tenant,workspace}')::uuid
          INTO NEW.org_id, NEW.workspace_id
          FROM underway.task t
         WHERE t.task_queue_name = NEW.task_queue_name AND t.id = NEW.task_id;
        RETURN NEW;
    END $$;
CREATE TRIGGER task_attempt_stamp BEFORE INSERT OR UPDATE ON underway.task_attempt
    FOR EACH ROW EXECUTE FUNCTION enclave.stamp_task_attempt();

ALTER TABLE underway.task_attempt ENABLE ROW LEVEL SECURITY;
ALTER TABLE underway.task_attempt FORCE ROW LEVEL SECURITY;
CREATE POLICY task_attempt_scope ON underway.task_attempt
    USING ((SELECT enclave.queue_plumbing())
           OR (org_id = (SELECT enclave.current_org_id())
               AND workspace_id IS NOT DISTINCT FROM (SELECT enclave.current_workspace_id())))
    WITH CHECK ((SELECT enclave.queue_plumbing())
           OR (org_id = (SELECT enclave.current_org_id())
               AND workspace_id IS NOT DISTINCT FROM (SELECT enclave.current_workspace_id())));

-- Schedules start system jobs (a tenant job cannot be enqueued without a context), so no
-- tenant or user context has any business with them.
ALTER TABLE underway.task_schedule ENABLE ROW LEVEL SECURITY;
ALTER TABLE underway.task_schedule FORCE ROW LEVEL SECURITY;
CREATE POLICY task_schedule_plumbing ON underway.task_schedule
    USING ((SELECT enclave.queue_plumbing()))
    WITH CHECK ((SELECT enclave.queue_plumbing()));

-- Tables the runtime role can reach that hold no tenant rows: declared, with the reason
-- (the audit requires one of the two: row level security, or this declaration).
COMMENT ON TABLE underway.task_queue IS 'enclave:global queue names (and their dead-letter queue) that underway registers; no tenant data.';
COMMENT ON TABLE underway._sqlx_migrations IS 'enclave:global underway''s own migration ledger; not granted to the runtime role.';
COMMENT ON TABLE enclave._sqlx_migrations IS 'enclave:global the migration ledger (checksums); read-only for the runtime role.';
COMMENT ON TABLE enclave.instance IS 'enclave:global the environment stamp of this database; read-only for the runtime role.';
COMMENT ON TABLE enclave.audit_log IS 'enclave:global append-only log of system-path uses and tenant changes; the runtime role may insert but never read it.';
COMMENT ON TABLE enclave.job_queues IS 'enclave:global every job queue and the path its jobs run on (tenant or system, never both); no tenant data.';
COMMENT ON TABLE tower_sessions.session IS 'enclave:global server sessions, read by their secret id before any context exists; records are opaque to SQL.';
COMMENT ON TABLE tower_sessions.session_owner IS 'enclave:global which user each session belongs to, for signing a user out everywhere; no tenant data.';

GRANT EXECUTE ON FUNCTION enclave.presented_invitation_token(), enclave.queue_plumbing() TO enclave_runtime;

-- The definer registry -----------------------------------------------------------------------
-- Every SECURITY DEFINER function the runtime role may execute, with the path it serves
-- and the rules it enforces. The audit fails on an unregistered one, on a registration
-- whose function is gone, and on a body that does not name its path's check.
--   tenant:  acts on the verified tenant context only (require_scope / require_manager /
--            require_agency_manager / current_org_id);
--   user:    acts for the signed-in user (current_user_id), no organization needed;
--   system:  cross-tenant; refuses unless the transaction is on the audited system path,
--            or writes its own system audit row first;
--   context: reads the context, changes nothing.
CREATE TABLE enclave.definer_registry (
    function  regprocedure PRIMARY KEY,
    path      text NOT NULL CHECK (path IN ('tenant', 'user', 'system', 'context')),
    rules     text NOT NULL CHECK (length(btrim(rules)) BETWEEN 1 AND 500)
);
COMMENT ON TABLE enclave.definer_registry IS 'enclave:global every SECURITY DEFINER function the runtime role may execute, its path and its rules; no tenant data.';
GRANT SELECT ON enclave.definer_registry TO enclave_runtime;

INSERT INTO enclave.definer_registry (function, path, rules) VALUES
    ('enclave.system_path_active()', 'context',
        'true only in a transaction that wrote its own system audit row; reads, never writes'),
    ('enclave.save_brand_guidelines(text, text, text, text, text, integer)', 'tenant',
        'current context only (no org id argument); an agency needs an open client; a stale expected version is refused'),
    ('enclave.rename_organization(text)', 'tenant', 'require_manager; name checked; audited'),
    ('enclave.change_member_role(uuid, text)', 'tenant',
        'require_manager; only owners grant or take away ownership; the last owner stays; audited'),
    ('enclave.remove_member(uuid)', 'tenant',
        'require_manager unless leaving; only owners remove owners; the last owner stays; audited'),
    ('enclave.invite_member(uuid, text, text, bytea, boolean, interval, text, bytea)', 'tenant',
        'require_manager; invites as admin or member only; stores the token hash only; audited'),
    ('enclave.revoke_invitation(uuid)', 'tenant', 'require_manager; pending invitations of this organization only; audited'),
    ('enclave.save_persona(uuid, text, text, text, text, text[])', 'tenant', 'require_scope: the current scope only'),
    ('enclave.save_campaign(uuid, text, text, text[], bigint, date, date, text, uuid)', 'tenant', 'require_scope: the current scope only'),
    ('enclave.save_campaign_output(uuid, uuid, text, text, text, text)', 'tenant', 'require_scope: the current scope only'),
    ('enclave.delete_resource(text, uuid)', 'tenant', 'require_scope: the current scope only; fixed list of tables'),
    ('enclave.add_client(text)', 'tenant', 'require_agency_manager; audited'),
    ('enclave.rename_client(uuid, text)', 'tenant', 'require_agency_manager; clients of this agency only; audited'),
    ('enclave.archive_client(uuid, boolean)', 'tenant', 'require_agency_manager; clients of this agency only; audited'),
    ('enclave.set_client_assignment(uuid, uuid, boolean)', 'tenant',
        'require_agency_manager; clients and members of this agency only; audited'),
    ('enclave.save_import_batch(text, text, text, integer)', 'tenant', 'require_scope: the current scope only'),
    ('enclave.finish_import_batch(uuid, jsonb)', 'tenant', 'require_scope: waiting batches of the current scope only'),
    ('enclave.create_job(text, uuid, text, jsonb)', 'tenant', 'require_scope: the current scope only'),
    ('enclave.set_job_status(uuid, text, text, jsonb)', 'tenant', 'require_scope: jobs of the current scope only; allowed moves only'),
    ('enclave.set_job_progress(uuid, integer, text)', 'tenant', 'require_scope: running jobs of the current scope only'),
    ('enclave.save_generated_output(uuid, text, text, text, text)', 'tenant', 'require_scope: the current scope only; once per key'),
    ('enclave.onboard_organization(text, text)', 'user',
        'the signed-in user becomes the owner of a new organization; kind and name checked; slug derived; audited'),
    ('enclave.accept_invitation(uuid, uuid, bytea)', 'user',
        'the signed-in user; the secret must hash to that invitation''s; verified email unless any address; single use, expiry, withdrawal; audited'),
    ('enclave.sign_in_identity(text, text, text, boolean, text)', 'system',
        'writes its own system audit row first; called only after the server verified the ID token'),
    ('enclave.dev_demo_accounts()', 'system',
        'refuses unless the database is stamped development; writes its own system audit row first'),
    ('enclave.claim_mail(integer)', 'system', 'refuses unless system_path_active()'),
    ('enclave.record_mail_attempt(uuid, uuid, text)', 'system', 'refuses unless system_path_active()'),
    ('enclave.create_user(text, text)', 'system', 'refuses unless system_path_active(); audited'),
    ('enclave.create_organization(text, text, text, uuid)', 'system',
        'refuses unless system_path_active(); name checked; audited (onboarding uses onboard_organization)'),
    ('enclave.add_member(uuid, text)', 'system',
        'refuses unless system_path_active(); in the entered organization; audited (people join through invitations)'),
    ('enclave.create_client_workspace(text, text)', 'system',
        'refuses unless system_path_active(); agencies only; audited (agencies use add_client)'),
    ('enclave.assign_client(uuid, uuid)', 'system',
        'refuses unless system_path_active(); agencies only; audited (agencies use set_client_assignment)');
