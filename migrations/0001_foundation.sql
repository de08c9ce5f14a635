-- Foundation: schemas, the tenant context, the first tenant tables, their policies,
-- the router write path and the unified read view.
--
-- Runs as the owner role. Everything is schema-qualified: the migration connection's
-- search_path is `enclave` only so that sqlx's own bookkeeping table lands there.
-- The runtime login role gets its rights through the NOLOGIN group role
-- `enclave_runtime` (created by `enclave migrate` when it bootstraps), so no login
-- role name is written into the schema.

-- Schemas ---------------------------------------------------------------------------
CREATE SCHEMA IF NOT EXISTS enclave;          -- platform internals, context, routers
CREATE SCHEMA agency;                          -- agency data, always per client workspace
CREATE SCHEMA tower_sessions;                  -- server-side sessions (tower-sessions store)
COMMENT ON SCHEMA agency IS 'Agency tenant data: every row belongs to an organization of kind agency and a client workspace.';

REVOKE ALL ON SCHEMA public FROM PUBLIC;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- Environment stamp (written by `enclave migrate`, read by the env guard) --------------
CREATE TABLE enclave.instance (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    environment  text NOT NULL CHECK (environment IN ('development', 'staging', 'production')),
    instance_id  uuid NOT NULL,
    stamped_at   timestamptz NOT NULL DEFAULT now()
);

-- Audit log: every use of the system path, and (later) every membership change -------
CREATE TABLE enclave.audit_log (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    xact_id   xid8 NOT NULL DEFAULT pg_current_xact_id(),
    path      text NOT NULL CHECK (path IN ('system', 'tenant')),
    actor     text NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
    action    text NOT NULL CHECK (length(action) BETWEEN 1 AND 200),
    org_id    uuid,
    detail    jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_xact_idx ON enclave.audit_log (xact_id);

-- Tenant context ------------------------------------------------------------------------
-- The context lives in three transaction-local settings. These readers are plain SQL so
-- the planner can inline them; policies wrap them in (SELECT ...) so each is evaluated
-- once per statement and the org_id index stays usable.
CREATE FUNCTION enclave.current_org_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(pg_catalog.current_setting('enclave.org_id', true), '')::uuid $$;

CREATE FUNCTION enclave.current_user_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(pg_catalog.current_setting('enclave.user_id', true), '')::uuid $$;

-- The system path is active only in a transaction that has written its own 'system'
-- audit row: using it without leaving a trace is impossible.
CREATE FUNCTION enclave.system_path_active() RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT pg_current_xact_id_if_assigned() IS NOT NULL
           AND EXISTS (SELECT 1 FROM enclave.audit_log a
                        WHERE a.xact_id = pg_current_xact_id_if_assigned()
                          AND a.path = 'system')
    $$;

-- Organizations (global: the tenant root) ------------------------------------------------
CREATE TABLE public.organizations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind        text NOT NULL CHECK (kind IN ('sme', 'agency')),
    name        text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE public.organizations IS 'enclave:global tenant root; kind is fixed at creation.';

CREATE FUNCTION enclave.forbid_kind_change() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        IF NEW.kind IS DISTINCT FROM OLD.kind THEN
            RAISE EXCEPTION 'the kind of an organization is fixed at creation'
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$;
CREATE TRIGGER organizations_kind_fixed BEFORE UPDATE ON public.organizations
    FOR EACH ROW EXECUTE FUNCTION enclave.forbid_kind_change();

ALTER TABLE public.organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.organizations FORCE ROW LEVEL SECURITY;
CREATE POLICY organizations_own ON public.organizations
    USING (id = (SELECT enclave.current_org_id()) OR (SELECT enclave.system_path_active()))
    WITH CHECK (id = (SELECT enclave.current_org_id()) OR (SELECT enclave.system_path_active()));

CREATE FUNCTION enclave.current_org_kind() RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT o.kind FROM public.organizations o WHERE o.id = enclave.current_org_id() $$;

-- Users (global identities) -------------------------------------------------------------
CREATE TABLE public.users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text NOT NULL CHECK (position('@' in email) > 1),
    display_name  text NOT NULL CHECK (length(btrim(display_name)) BETWEEN 1 AND 200),
    created_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE public.users IS 'enclave:global people; visible to themselves and to the organizations they belong to.';

-- Memberships ---------------------------------------------------------------------------
CREATE TABLE public.memberships (
    org_id      uuid NOT NULL REFERENCES public.organizations (id),
    user_id     uuid NOT NULL REFERENCES public.users (id),
    role        text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, user_id)
);
ALTER TABLE public.memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY memberships_org ON public.memberships
    USING (org_id = (SELECT enclave.current_org_id()))
    WITH CHECK (org_id = (SELECT enclave.current_org_id()));

ALTER TABLE public.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.users FORCE ROW LEVEL SECURITY;
CREATE POLICY users_visible ON public.users
    USING (id = (SELECT enclave.current_user_id())
           OR EXISTS (SELECT 1 FROM public.memberships m
                       WHERE m.org_id = (SELECT enclave.current_org_id()) AND m.user_id = users.id)
           OR (SELECT enclave.system_path_active()))
    WITH CHECK ((SELECT enclave.system_path_active()));

CREATE FUNCTION enclave.current_member_role() RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT m.role FROM public.memberships m
           WHERE m.org_id = enclave.current_org_id() AND m.user_id = enclave.current_user_id() $$;

-- Agency client workspaces and staff assignments --------------------------------------
-- Directory tables: scoped to the agency organization; a staff member with role
-- `member` sees only the workspaces they are assigned to.
CREATE TABLE agency.client_workspaces (
    org_id        uuid NOT NULL REFERENCES public.organizations (id),
    workspace_id  uuid NOT NULL DEFAULT gen_random_uuid(),
    name          text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    slug          text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    archived_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, workspace_id),
    UNIQUE (org_id, slug)
);

CREATE TABLE agency.client_assignments (
    org_id        uuid NOT NULL,
    workspace_id  uuid NOT NULL,
    user_id       uuid NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, workspace_id, user_id),
    FOREIGN KEY (org_id, workspace_id) REFERENCES agency.client_workspaces (org_id, workspace_id),
    FOREIGN KEY (org_id, user_id) REFERENCES public.memberships (org_id, user_id) ON DELETE CASCADE
);
CREATE INDEX client_assignments_user_idx ON agency.client_assignments (org_id, user_id);

ALTER TABLE agency.client_workspaces ENABLE ROW LEVEL SECURITY;
ALTER TABLE agency.client_workspaces FORCE ROW LEVEL SECURITY;
CREATE POLICY client_workspaces_visible ON agency.client_workspaces
    USING (org_id = (SELECT enclave.current_org_id())
           AND (SELECT enclave.current_org_kind()) = 'agency'
           AND ((SELECT enclave.current_member_role()) IN ('owner', 'admin')
                OR EXISTS (SELECT 1 FROM agency.client_assignments a
                            WHERE a.org_id = client_workspaces.org_id
                              AND a.workspace_id = client_workspaces.workspace_id
                              AND a.user_id = (SELECT enclave.current_user_id()))))
    WITH CHECK (org_id = (SELECT enclave.current_org_id())
           AND (SELECT enclave.current_org_kind()) = 'agency'
           AND (SELECT enclave.current_member_role()) IN ('owner', 'admin'));
CREATE POLICY client_workspaces_delete_admins ON agency.client_workspaces AS RESTRICTIVE
    FOR DELETE USING ((SELECT enclave.current_member_role()) IN ('owner', 'admin'));

ALTER TABLE agency.client_assignments ENABLE ROW LEVEL SECURITY;
ALTER TABLE agency.client_assignments FORCE ROW LEVEL SECURITY;
CREATE POLICY client_assignments_visible ON agency.client_assignments
    USING (org_id = (SELECT enclave.current_org_id())
           AND (SELECT enclave.current_org_kind()) = 'agency'
           AND ((SELECT enclave.current_member_role()) IN ('owner', 'admin')
                OR user_id = (SELECT enclave.current_user_id())))
    WITH CHECK (org_id = (SELECT enclave.current_org_id())
           AND (SELECT enclave.current_org_kind()) = 'agency'
           AND (SELECT enclave.current_member_role()) IN ('owner', 'admin'));
CREATE POLICY client_assignments_delete_admins ON agency.client_assignments AS RESTRICTIVE
    FOR DELETE USING ((SELECT enclave.current_member_role()) IN ('owner', 'admin'));

-- The active client workspace, only if it exists, is not archived and the current user
-- may see it (the client_workspaces policy decides that).
CREATE FUNCTION enclave.current_workspace_id() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$ SELECT w.workspace_id FROM agency.client_workspaces w
           WHERE w.org_id = enclave.current_org_id()
             AND w.workspace_id = NULLIF(pg_catalog.current_setting('enclave.workspace_id', true), '')::uuid
             AND w.archived_at IS NULL $$;

-- Entering a tenant context -------------------------------------------------------------
-- Called as the first statement of every tenant-scoped transaction (and inside the
-- single-statement read functions). The settings are transaction-local: commit,
-- rollback or an error removes them. Refuses a user who is not a member, and a client
-- workspace the user may not see.
CREATE FUNCTION enclave.enter_context(p_org uuid, p_workspace uuid, p_user uuid) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        IF p_org IS NULL OR p_user IS NULL THEN
            RAISE EXCEPTION 'tenant context needs an organization and a user'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        PERFORM set_config('enclave.org_id', p_org::text, true);
        PERFORM set_config('enclave.user_id', p_user::text, true);
        PERFORM set_config('enclave.workspace_id', coalesce(p_workspace::text, ''), true);
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

-- Brand guidelines, on both sides -----------------------------------------------------
CREATE TABLE public.brand_guidelines (
    org_id      uuid NOT NULL REFERENCES public.organizations (id),
    voice       text NOT NULL DEFAULT '' CHECK (length(voice) <= 5000),
    tone        text NOT NULL DEFAULT '' CHECK (length(tone) <= 5000),
    palette     text NOT NULL DEFAULT '' CHECK (length(palette) <= 1000),
    do_list     text NOT NULL DEFAULT '' CHECK (length(do_list) <= 5000),
    dont_list   text NOT NULL DEFAULT '' CHECK (length(dont_list) <= 5000),
    version     integer NOT NULL DEFAULT 1 CHECK (version > 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  uuid REFERENCES public.users (id),
    PRIMARY KEY (org_id)
);
ALTER TABLE public.brand_guidelines ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.brand_guidelines FORCE ROW LEVEL SECURITY;
CREATE POLICY brand_guidelines_sme ON public.brand_guidelines
    USING (org_id = (SELECT enclave.current_org_id())
           AND (SELECT enclave.current_org_kind()) = 'sme')
    WITH CHECK (org_id = (SELECT enclave.current_org_id())
           AND (SELECT enclave.current_org_kind()) = 'sme');

CREATE TABLE agency.brand_guidelines (
    org_id        uuid NOT NULL,
    workspace_id  uuid NOT NULL,
    voice         text NOT NULL DEFAULT '' CHECK (length(voice) <= 5000),
    tone          text NOT NULL DEFAULT '' CHECK (length(tone) <= 5000),
    palette       text NOT NULL DEFAULT '' CHECK (length(palette) <= 1000),
    do_list       text NOT NULL DEFAULT '' CHECK (length(do_list) <= 5000),
    dont_list     text NOT NULL DEFAULT '' CHECK (length(dont_list) <= 5000),
    version       integer NOT NULL DEFAULT 1 CHECK (version > 0),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    updated_by    uuid REFERENCES public.users (id),
    PRIMARY KEY (org_id, workspace_id),
    FOREIGN KEY (org_id, workspace_id) REFERENCES agency.client_workspaces (org_id, workspace_id)
);
ALTER TABLE agency.brand_guidelines ENABLE ROW LEVEL SECURITY;
ALTER TABLE agency.brand_guidelines FORCE ROW LEVEL SECURITY;
CREATE POLICY brand_guidelines_client ON agency.brand_guidelines
    USING (org_id = (SELECT enclave.current_org_id())
           AND workspace_id = (SELECT enclave.current_workspace_id())
           AND (SELECT enclave.current_org_kind()) = 'agency')
    WITH CHECK (org_id = (SELECT enclave.current_org_id())
           AND workspace_id = (SELECT enclave.current_workspace_id())
           AND (SELECT enclave.current_org_kind()) = 'agency');

-- Unified read: one view over both schemas; RLS applies to whoever reads it.
CREATE VIEW public.brand_guidelines_unified WITH (security_invoker = on) AS
    SELECT 'sme'::text AS source, g.org_id, NULL::uuid AS workspace_id, g.voice, g.tone,
           g.palette, g.do_list, g.dont_list, g.version, g.updated_at, g.updated_by
      FROM public.brand_guidelines g
    UNION ALL
    SELECT 'agency'::text AS source, g.org_id, g.workspace_id, g.voice, g.tone,
           g.palette, g.do_list, g.dont_list, g.version, g.updated_at, g.updated_by
      FROM agency.brand_guidelines g;

-- Single-statement tenant read: enters the context and returns the rows in one round
-- trip (the hot path; see docs/ARCHITECTURE.md "The hot path").
CREATE FUNCTION enclave.read_brand_guidelines(p_org uuid, p_workspace uuid, p_user uuid)
    RETURNS SETOF public.brand_guidelines_unified
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        PERFORM enclave.enter_context(p_org, p_workspace, p_user);
        RETURN QUERY SELECT * FROM public.brand_guidelines_unified;
    END $$;

-- Router write: reads the organization's kind from the database and writes the right
-- schema. Takes no organization id: it acts on the current context only.
-- p_expected_version guards against silently overwriting someone else's save.
CREATE FUNCTION enclave.save_brand_guidelines(
        p_voice text, p_tone text, p_palette text, p_do_list text, p_dont_list text,
        p_expected_version integer)
    RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_org   uuid := enclave.current_org_id();
        v_user  uuid := enclave.current_user_id();
        v_kind  text := enclave.current_org_kind();
        v_ws    uuid;
        v_version integer;
    BEGIN
        IF v_org IS NULL OR v_kind IS NULL THEN
            RAISE EXCEPTION 'no tenant context' USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF v_kind = 'sme' THEN
            INSERT INTO public.brand_guidelines AS g
                   (org_id, voice, tone, palette, do_list, dont_list, updated_by)
            VALUES (v_org, p_voice, p_tone, p_palette, p_do_list, p_dont_list, v_user)
            ON CONFLICT (org_id) DO UPDATE
               SET voice = EXCLUDED.voice, tone = EXCLUDED.tone, palette = EXCLUDED.palette,
                   do_list = EXCLUDED.do_list, dont_list = EXCLUDED.dont_list,
                   version = g.version + 1, updated_at = now(), updated_by = v_user
             WHERE p_expected_version IS NULL OR g.version = p_expected_version
            RETURNING g.version INTO v_version;
        ELSE
            v_ws := enclave.current_workspace_id();
            IF v_ws IS NULL THEN
                RAISE EXCEPTION 'no client workspace selected' USING ERRCODE = 'insufficient_privilege';
            END IF;
            INSERT INTO agency.brand_guidelines AS g
                   (org_id, workspace_id, voice, tone, palette, do_list, dont_list, updated_by)
            VALUES (v_org, v_ws, p_voice, p_tone, p_palette, p_do_list, p_dont_list, v_user)
            ON CONFLICT (org_id, workspace_id) DO UPDATE
               SET voice = EXCLUDED.voice, tone = EXCLUDED.tone, palette = EXCLUDED.palette,
                   do_list = EXCLUDED.do_list, dont_list = EXCLUDED.dont_list,
                   version = g.version + 1, updated_at = now(), updated_by = v_user
             WHERE p_expected_version IS NULL OR g.version = p_expected_version
            RETURNING g.version INTO v_version;
        END IF;
        IF v_version IS NULL THEN
            RAISE EXCEPTION 'brand guidelines were changed by someone else since you opened them'
                USING ERRCODE = 'serialization_failure';
        END IF;
        RETURN v_version;
    END $$;

-- Identity and onboarding writes ----------------------------------------------------------
-- Creating an organization also creates its first owner: the two are one act.
CREATE FUNCTION enclave.create_organization(p_kind text, p_name text, p_slug text, p_owner uuid)
    RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_org uuid := gen_random_uuid();
        v_prev_org text := current_setting('enclave.org_id', true);
        v_prev_user text := current_setting('enclave.user_id', true);
        v_prev_ws text := current_setting('enclave.workspace_id', true);
    BEGIN
        IF p_owner IS DISTINCT FROM enclave.current_user_id() AND NOT enclave.system_path_active() THEN
            RAISE EXCEPTION 'an organization is created by its own first owner'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        PERFORM set_config('enclave.org_id', v_org::text, true);
        PERFORM set_config('enclave.user_id', p_owner::text, true);
        INSERT INTO public.organizations (id, kind, name, slug) VALUES (v_org, p_kind, p_name, p_slug);
        INSERT INTO public.memberships (org_id, user_id, role) VALUES (v_org, p_owner, 'owner');
        PERFORM set_config('enclave.org_id', coalesce(v_prev_org, ''), true);
        PERFORM set_config('enclave.user_id', coalesce(v_prev_user, ''), true);
        PERFORM set_config('enclave.workspace_id', coalesce(v_prev_ws, ''), true);
        RETURN v_org;
    END $$;

-- Users are created on the system path (sign-in provisioning, seeding).
CREATE FUNCTION enclave.create_user(p_email text, p_display_name text) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE v_id uuid;
    BEGIN
        INSERT INTO public.users (email, display_name) VALUES (p_email, p_display_name)
            RETURNING id INTO v_id;
        RETURN v_id;
    END $$;

CREATE FUNCTION enclave.add_member(p_user uuid, p_role text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        IF enclave.current_member_role() IS DISTINCT FROM 'owner'
           AND enclave.current_member_role() IS DISTINCT FROM 'admin' THEN
            RAISE EXCEPTION 'only owners and admins can add members' USING ERRCODE = 'insufficient_privilege';
        END IF;
        INSERT INTO public.memberships (org_id, user_id, role)
             VALUES (enclave.current_org_id(), p_user, p_role);
    END $$;

CREATE FUNCTION enclave.create_client_workspace(p_name text, p_slug text) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE v_id uuid;
    BEGIN
        INSERT INTO agency.client_workspaces (org_id, name, slug)
             VALUES (enclave.current_org_id(), p_name, p_slug)
          RETURNING workspace_id INTO v_id;
        RETURN v_id;
    END $$;

CREATE FUNCTION enclave.assign_client(p_workspace uuid, p_user uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        INSERT INTO agency.client_assignments (org_id, workspace_id, user_id)
             VALUES (enclave.current_org_id(), p_workspace, p_user)
        ON CONFLICT DO NOTHING;
    END $$;

-- The signed-in user's view of the active organization: resolves a session into the
-- membership the server trusts (run inside the context it describes).
CREATE FUNCTION enclave.describe_context()
    RETURNS TABLE (org_id uuid, org_name text, org_kind text, role text,
                   workspace_id uuid, workspace_name text, user_name text, user_email text)
    LANGUAGE sql STABLE
    AS $$
        SELECT o.id, o.name, o.kind, m.role, w.workspace_id, w.name, u.display_name, u.email
          FROM public.organizations o
          JOIN public.memberships m ON m.org_id = o.id AND m.user_id = enclave.current_user_id()
          JOIN public.users u ON u.id = m.user_id
          LEFT JOIN agency.client_workspaces w
                 ON w.org_id = o.id AND w.workspace_id = enclave.current_workspace_id()
         WHERE o.id = enclave.current_org_id()
    $$;

-- Resolves a session's claim (user, organization, optional client workspace) into the
-- membership the server trusts, in one round trip. Raises if the user is not a member.
CREATE FUNCTION enclave.resolve_context(p_org uuid, p_workspace uuid, p_user uuid)
    RETURNS TABLE (org_id uuid, org_name text, org_kind text, role text,
                   workspace_id uuid, workspace_name text, user_name text, user_email text)
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        PERFORM enclave.enter_context(p_org, p_workspace, p_user);
        RETURN QUERY SELECT * FROM enclave.describe_context();
    END $$;

-- Client workspaces the current user may open (empty for an SME).
CREATE FUNCTION enclave.visible_client_workspaces()
    RETURNS TABLE (workspace_id uuid, name text, slug text)
    LANGUAGE sql STABLE
    AS $$
        SELECT w.workspace_id, w.name, w.slug FROM agency.client_workspaces w
         WHERE w.org_id = enclave.current_org_id() AND w.archived_at IS NULL
         ORDER BY w.name
    $$;

-- Development-only directory of demo accounts for the demo sign-in page. Refuses unless
-- the database itself is stamped development, and uses the system path (audited).
CREATE FUNCTION enclave.dev_demo_accounts()
    RETURNS TABLE (user_id uuid, email text, display_name text, org_id uuid,
                   org_name text, org_kind text, role text)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE v_org record;
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM enclave.instance WHERE environment = 'development') THEN
            RAISE EXCEPTION 'demo sign-in exists only in a development database'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        INSERT INTO enclave.audit_log (path, actor, action)
             VALUES ('system', 'demo-sign-in', 'list demo accounts');
        FOR v_org IN SELECT o.id, o.name, o.kind FROM public.organizations o ORDER BY o.name LOOP
            PERFORM set_config('enclave.org_id', v_org.id::text, true);
            RETURN QUERY
                SELECT u.id, u.email, u.display_name, v_org.id, v_org.name, v_org.kind, m.role
                  FROM public.memberships m JOIN public.users u ON u.id = m.user_id
                 WHERE m.org_id = v_org.id
                 ORDER BY u.display_name;
        END LOOP;
        PERFORM set_config('enclave.org_id', '', true);
    END $$;

-- Grants: the runtime group reads tenant tables under RLS and writes only through the
-- router functions above.
GRANT USAGE ON SCHEMA public, agency, enclave, tower_sessions TO enclave_runtime;
GRANT SELECT ON public.organizations, public.users, public.memberships, public.brand_guidelines,
                public.brand_guidelines_unified,
                agency.client_workspaces, agency.client_assignments, agency.brand_guidelines
    TO enclave_runtime;
GRANT SELECT ON enclave.instance TO enclave_runtime;
GRANT SELECT ON enclave._sqlx_migrations TO enclave_runtime;
GRANT INSERT ON enclave.audit_log TO enclave_runtime;
GRANT EXECUTE ON FUNCTION
    enclave.current_org_id(), enclave.current_user_id(), enclave.system_path_active(),
    enclave.current_org_kind(), enclave.current_member_role(), enclave.current_workspace_id(),
    enclave.forbid_kind_change(),
    enclave.enter_context(uuid, uuid, uuid), enclave.read_brand_guidelines(uuid, uuid, uuid),
    enclave.save_brand_guidelines(text, text, text, text, text, integer),
    enclave.create_organization(text, text, text, uuid), enclave.create_user(text, text),
    enclave.add_member(uuid, text), enclave.create_client_workspace(text, text),
    enclave.assign_client(uuid, uuid), enclave.describe_context(),
    enclave.resolve_context(uuid, uuid, uuid),
    enclave.visible_client_workspaces(), enclave.dev_demo_accounts()
    TO enclave_runtime;

-- Sessions (tower-sessions-sqlx-store's table, created here so the runtime owns nothing)
CREATE TABLE tower_sessions.session (
    id           text PRIMARY KEY NOT NULL,
    data         bytea NOT NULL,
    expiry_date  timestamptz NOT NULL
);
CREATE INDEX session_expiry_idx ON tower_sessions.session (expiry_date);
GRANT SELECT, INSERT, UPDATE, DELETE ON tower_sessions.session TO enclave_runtime;
