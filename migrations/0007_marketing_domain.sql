-- The marketing domain on both sides: personas, campaigns, campaign outputs, and the
-- version history of brand guidelines. SME rows live in `public`, agency rows in
-- `agency` per client workspace. Every table: RLS with FORCE, the organization's kind on
-- the row (pinned, tied to organizations (id, kind); see 0006), org_id leading every key,
-- foreign keys including org_id (and workspace_id). Writes go through router functions
-- that take no organization or workspace id; reads through security_invoker views that
-- union both schemas with a `source` column.

-- Personas ---------------------------------------------------------------------------------
CREATE TABLE public.personas (
    org_id      uuid NOT NULL,
    persona_id  uuid NOT NULL DEFAULT gen_random_uuid(),
    org_kind    text NOT NULL DEFAULT 'sme' CONSTRAINT personas_org_kind_sme CHECK (org_kind = 'sme'),
    name        text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    role_title  text NOT NULL DEFAULT '' CHECK (length(role_title) <= 200),
    goals       text NOT NULL DEFAULT '' CHECK (length(goals) <= 5000),
    pains       text NOT NULL DEFAULT '' CHECK (length(pains) <= 5000),
    channels    text[] NOT NULL DEFAULT '{}' CHECK (cardinality(channels) <= 20),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  uuid REFERENCES public.users (id),
    PRIMARY KEY (org_id, persona_id),
    FOREIGN KEY (org_id, org_kind) REFERENCES public.organizations (id, kind)
);
CREATE TABLE agency.personas (
    org_id        uuid NOT NULL,
    workspace_id  uuid NOT NULL,
    persona_id    uuid NOT NULL DEFAULT gen_random_uuid(),
    org_kind      text NOT NULL DEFAULT 'agency' CONSTRAINT personas_org_kind_agency CHECK (org_kind = 'agency'),
    name          text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    role_title    text NOT NULL DEFAULT '' CHECK (length(role_title) <= 200),
    goals         text NOT NULL DEFAULT '' CHECK (length(goals) <= 5000),
    pains         text NOT NULL DEFAULT '' CHECK (length(pains) <= 5000),
    channels      text[] NOT NULL DEFAULT '{}' CHECK (cardinality(channels) <= 20),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    updated_by    uuid REFERENCES public.users (id),
    PRIMARY KEY (org_id, workspace_id, persona_id),
    FOREIGN KEY (org_id, workspace_id) REFERENCES agency.client_workspaces (org_id, workspace_id),
    FOREIGN KEY (org_id, org_kind) REFERENCES public.organizations (id, kind)
);

-- Campaigns --------------------------------------------------------------------------------
-- The owner is a member of the organization; removing the member clears the owner only.
CREATE TABLE public.campaigns (
    org_id        uuid NOT NULL,
    campaign_id   uuid NOT NULL DEFAULT gen_random_uuid(),
    org_kind      text NOT NULL DEFAULT 'sme' CONSTRAINT campaigns_org_kind_sme CHECK (org_kind = 'sme'),
    name          text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    objective     text NOT NULL DEFAULT '' CHECK (length(objective) <= 2000),
    channels      text[] NOT NULL DEFAULT '{}' CHECK (cardinality(channels) <= 20),
    budget_cents  bigint CHECK (budget_cents >= 0),
    starts_on     date,
    ends_on       date,
    status        text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'paused', 'done')),
    owner_id      uuid,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, campaign_id),
    CHECK (ends_on IS NULL OR starts_on IS NULL OR ends_on >= starts_on),
    FOREIGN KEY (org_id, org_kind) REFERENCES public.organizations (id, kind),
    FOREIGN KEY (org_id, owner_id) REFERENCES public.memberships (org_id, user_id) ON DELETE SET NULL (owner_id)
);
CREATE INDEX campaigns_status_idx ON public.campaigns (org_id, status, updated_at DESC);
CREATE TABLE agency.campaigns (
    org_id        uuid NOT NULL,
    workspace_id  uuid NOT NULL,
    campaign_id   uuid NOT NULL DEFAULT gen_random_uuid(),
    org_kind      text NOT NULL DEFAULT 'agency' CONSTRAINT campaigns_org_kind_agency CHECK (org_kind = 'agency'),
    name          text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    objective     text NOT NULL DEFAULT '' CHECK (length(objective) <= 2000),
    channels      text[] NOT NULL DEFAULT '{}' CHECK (cardinality(channels) <= 20),
    budget_cents  bigint CHECK (budget_cents >= 0),
    starts_on     date,
    ends_on       date,
    status        text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'paused', 'done')),
    owner_id      uuid,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, workspace_id, campaign_id),
    CHECK (ends_on IS NULL OR starts_on IS NULL OR ends_on >= starts_on),
    FOREIGN KEY (org_id, workspace_id) REFERENCES agency.client_workspaces (org_id, workspace_id),
    FOREIGN KEY (org_id, org_kind) REFERENCES public.organizations (id, kind),
    FOREIGN KEY (org_id, owner_id) REFERENCES public.memberships (org_id, user_id) ON DELETE SET NULL (owner_id)
);
CREATE INDEX agency_campaigns_status_idx ON agency.campaigns (org_id, workspace_id, status, updated_at DESC);

-- Campaign outputs (generated or hand-written pieces) ----------------------------------------
CREATE TABLE public.campaign_outputs (
    org_id       uuid NOT NULL,
    campaign_id  uuid NOT NULL,
    output_id    uuid NOT NULL DEFAULT gen_random_uuid(),
    org_kind     text NOT NULL DEFAULT 'sme' CONSTRAINT campaign_outputs_org_kind_sme CHECK (org_kind = 'sme'),
    channel      text NOT NULL CHECK (length(btrim(channel)) BETWEEN 1 AND 50),
    headline     text NOT NULL DEFAULT '' CHECK (length(headline) <= 300),
    body         text NOT NULL DEFAULT '' CHECK (length(body) <= 20000),
    status       text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'approved', 'published')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, campaign_id, output_id),
    FOREIGN KEY (org_id, campaign_id) REFERENCES public.campaigns (org_id, campaign_id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, org_kind) REFERENCES public.organizations (id, kind)
);
CREATE TABLE agency.campaign_outputs (
    org_id        uuid NOT NULL,
    workspace_id  uuid NOT NULL,
    campaign_id   uuid NOT NULL,
    output_id     uuid NOT NULL DEFAULT gen_random_uuid(),
    org_kind      text NOT NULL DEFAULT 'agency' CONSTRAINT campaign_outputs_org_kind_agency CHECK (org_kind = 'agency'),
    channel       text NOT NULL CHECK (length(btrim(channel)) BETWEEN 1 AND 50),
    headline      text NOT NULL DEFAULT '' CHECK (length(headline) <= 300),
    body          text NOT NULL DEFAULT '' CHECK (length(body) <= 20000),
    status        text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'approved', 'published')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, workspace_id, campaign_id, output_id),
    FOREIGN KEY (org_id, workspace_id, campaign_id)
        REFERENCES agency.campaigns (org_id, workspace_id, campaign_id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, org_kind) REFERENCES public.organizations (id, kind)
);

-- Brand guideline history: every saved version, kept by a trigger ------------------------
CREATE TABLE public.brand_guideline_versions (
    org_id      uuid NOT NULL,
    version     integer NOT NULL,
    org_kind    text NOT NULL DEFAULT 'sme' CONSTRAINT brand_guideline_versions_org_kind_sme CHECK (org_kind = 'sme'),
    voice       text NOT NULL,
    tone        text NOT NULL,
    palette     text NOT NULL,
    do_list     text NOT NULL,
    dont_list   text NOT NULL,
    saved_at    timestamptz NOT NULL,
    saved_by    uuid REFERENCES public.users (id),
    PRIMARY KEY (org_id, version),
    FOREIGN KEY (org_id) REFERENCES public.brand_guidelines (org_id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, org_kind) REFERENCES public.organizations (id, kind)
);
CREATE TABLE agency.brand_guideline_versions (
    org_id        uuid NOT NULL,
    workspace_id  uuid NOT NULL,
    version       integer NOT NULL,
    org_kind      text NOT NULL DEFAULT 'agency' CONSTRAINT brand_guideline_versions_org_kind_agency CHECK (org_kind = 'agency'),
    voice         text NOT NULL,
    tone          text NOT NULL,
    palette       text NOT NULL,
    do_list       text NOT NULL,
    dont_list     text NOT NULL,
    saved_at      timestamptz NOT NULL,
    saved_by      uuid REFERENCES public.users (id),
    PRIMARY KEY (org_id, workspace_id, version),
    FOREIGN KEY (org_id, workspace_id) REFERENCES agency.brand_guidelines (org_id, workspace_id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, org_kind) REFERENCES public.organizations (id, kind)
);

-- Row-level security: the same shape on every table of a side -------------------------------
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['personas', 'campaigns', 'campaign_outputs', 'brand_guideline_versions'] LOOP
        EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE public.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY %I ON public.%I
            USING (org_id = (SELECT enclave.current_org_id()) AND org_kind = 'sme')
            WITH CHECK (org_id = (SELECT enclave.current_org_id()) AND org_kind = 'sme')$p$,
            t || '_sme', t);
        EXECUTE format('ALTER TABLE agency.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE agency.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY %I ON agency.%I
            USING (org_id = (SELECT enclave.current_org_id())
                   AND workspace_id = (SELECT enclave.current_workspace_id()) AND org_kind = 'agency')
            WITH CHECK (org_id = (SELECT enclave.current_org_id())
                   AND workspace_id = (SELECT enclave.current_workspace_id()) AND org_kind = 'agency')$p$,
            t || '_client', t);
    END LOOP;
END $$;

-- Derived state in the database ---------------------------------------------------------------
-- Every save of brand guidelines keeps its version (the trigger runs inside the router
-- function's transaction, so the same policies apply).
CREATE FUNCTION enclave.keep_brand_guideline_version() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        IF TG_TABLE_SCHEMA = 'public' THEN
            INSERT INTO public.brand_guideline_versions
                   (org_id, version, voice, tone, palette, do_list, dont_list, saved_at, saved_by)
            VALUES (NEW.org_id, NEW.version, NEW.voice, NEW.tone, NEW.palette, NEW.do_list,
                    NEW.dont_list, NEW.updated_at, NEW.updated_by);
        ELSE
            INSERT INTO agency.brand_guideline_versions
                   (org_id, workspace_id, version, voice, tone, palette, do_list, dont_list, saved_at, saved_by)
            VALUES (NEW.org_id, NEW.workspace_id, NEW.version, NEW.voice, NEW.tone, NEW.palette,
                    NEW.do_list, NEW.dont_list, NEW.updated_at, NEW.updated_by);
        END IF;
        RETURN NULL;
    END $$;
CREATE TRIGGER brand_guidelines_keep_version AFTER INSERT OR UPDATE ON public.brand_guidelines
    FOR EACH ROW EXECUTE FUNCTION enclave.keep_brand_guideline_version();
CREATE TRIGGER brand_guidelines_keep_version AFTER INSERT OR UPDATE ON agency.brand_guidelines
    FOR EACH ROW EXECUTE FUNCTION enclave.keep_brand_guideline_version();
-- Versions saved before this migration: keep the current one as history too. The owner
-- runs migrations and FORCE binds it, so the backfill lifts FORCE for these four tables
-- inside this transaction only (the owner then reads and writes as the table owner).
ALTER TABLE public.brand_guidelines NO FORCE ROW LEVEL SECURITY;
ALTER TABLE agency.brand_guidelines NO FORCE ROW LEVEL SECURITY;
ALTER TABLE public.brand_guideline_versions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE agency.brand_guideline_versions NO FORCE ROW LEVEL SECURITY;
INSERT INTO public.brand_guideline_versions
       (org_id, version, voice, tone, palette, do_list, dont_list, saved_at, saved_by)
SELECT org_id, version, voice, tone, palette, do_list, dont_list, updated_at, updated_by
  FROM public.brand_guidelines;
INSERT INTO agency.brand_guideline_versions
       (org_id, workspace_id, version, voice, tone, palette, do_list, dont_list, saved_at, saved_by)
SELECT org_id, workspace_id, version, voice, tone, palette, do_list, dont_list, updated_at, updated_by
  FROM agency.brand_guidelines;
ALTER TABLE public.brand_guidelines FORCE ROW LEVEL SECURITY;
ALTER TABLE agency.brand_guidelines FORCE ROW LEVEL SECURITY;
ALTER TABLE public.brand_guideline_versions FORCE ROW LEVEL SECURITY;
ALTER TABLE agency.brand_guideline_versions FORCE ROW LEVEL SECURITY;

-- A campaign's "last updated" includes changes to its outputs.
CREATE FUNCTION enclave.touch_campaign() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE r record := coalesce(NEW, OLD);
    BEGIN
        IF TG_TABLE_SCHEMA = 'public' THEN
            UPDATE public.campaigns SET updated_at = now()
             WHERE org_id = r.org_id AND campaign_id = r.campaign_id;
        ELSE
            UPDATE agency.campaigns SET updated_at = now()
             WHERE org_id = r.org_id AND workspace_id = r.workspace_id AND campaign_id = r.campaign_id;
        END IF;
        RETURN NULL;
    END $$;
CREATE TRIGGER campaign_outputs_touch AFTER INSERT OR UPDATE OR DELETE ON public.campaign_outputs
    FOR EACH ROW EXECUTE FUNCTION enclave.touch_campaign();
CREATE TRIGGER campaign_outputs_touch AFTER INSERT OR UPDATE OR DELETE ON agency.campaign_outputs
    FOR EACH ROW EXECUTE FUNCTION enclave.touch_campaign();

-- Reads: one view per resource over both schemas; RLS applies to whoever reads ---------------
CREATE VIEW public.personas_unified WITH (security_invoker = on) AS
    SELECT 'sme'::text AS source, p.org_id, NULL::uuid AS workspace_id, p.persona_id, p.name,
           p.role_title, p.goals, p.pains, p.channels, p.created_at, p.updated_at
      FROM public.personas p
    UNION ALL
    SELECT 'agency'::text, p.org_id, p.workspace_id, p.persona_id, p.name,
           p.role_title, p.goals, p.pains, p.channels, p.created_at, p.updated_at
      FROM agency.personas p;

CREATE VIEW public.campaigns_unified WITH (security_invoker = on) AS
    SELECT 'sme'::text AS source, c.org_id, NULL::uuid AS workspace_id, c.campaign_id, c.name,
           c.objective, c.channels, c.budget_cents, c.starts_on, c.ends_on, c.status,
           c.owner_id, c.created_at, c.updated_at
      FROM public.campaigns c
    UNION ALL
    SELECT 'agency'::text, c.org_id, c.workspace_id, c.campaign_id, c.name,
           c.objective, c.channels, c.budget_cents, c.starts_on, c.ends_on, c.status,
           c.owner_id, c.created_at, c.updated_at
      FROM agency.campaigns c;

CREATE VIEW public.campaign_outputs_unified WITH (security_invoker = on) AS
    SELECT 'sme'::text AS source, o.org_id, NULL::uuid AS workspace_id, o.campaign_id,
           o.output_id, o.channel, o.headline, o.body, o.status, o.created_at, o.updated_at
      FROM public.campaign_outputs o
    UNION ALL
    SELECT 'agency'::text, o.org_id, o.workspace_id, o.campaign_id,
           o.output_id, o.channel, o.headline, o.body, o.status, o.created_at, o.updated_at
      FROM agency.campaign_outputs o;

CREATE VIEW public.brand_guideline_versions_unified WITH (security_invoker = on) AS
    SELECT 'sme'::text AS source, v.org_id, NULL::uuid AS workspace_id, v.version, v.voice,
           v.tone, v.palette, v.do_list, v.dont_list, v.saved_at, v.saved_by
      FROM public.brand_guideline_versions v
    UNION ALL
    SELECT 'agency'::text, v.org_id, v.workspace_id, v.version, v.voice,
           v.tone, v.palette, v.do_list, v.dont_list, v.saved_at, v.saved_by
      FROM agency.brand_guideline_versions v;

-- Dashboard counts, computed by the database from the rows the reader may see. One row
-- per tenant context, none without one.
CREATE VIEW public.workspace_counts WITH (security_invoker = on) AS
    SELECT ctx.org_id, ctx.workspace_id,
           (SELECT count(*) FROM public.personas_unified) AS personas,
           (SELECT count(*) FROM public.campaigns_unified) AS campaigns,
           (SELECT count(*) FROM public.campaigns_unified WHERE status = 'active') AS active_campaigns,
           (SELECT count(*) FROM public.campaigns_unified WHERE status = 'draft') AS draft_campaigns,
           (SELECT count(*) FROM public.campaign_outputs_unified) AS outputs,
           (SELECT count(*) FROM public.campaign_outputs_unified WHERE status = 'draft') AS outputs_to_review
      FROM (SELECT enclave.current_org_id() AS org_id, enclave.current_workspace_id() AS workspace_id) ctx
     WHERE ctx.org_id IS NOT NULL;

-- Router writes: no organization or workspace id in the arguments ------------------------------
-- The scope of the current context: the kind, and for agencies the active client.
CREATE FUNCTION enclave.require_scope(OUT o_org uuid, OUT o_kind text, OUT o_workspace uuid)
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        o_org := enclave.current_org_id();
        o_kind := enclave.current_org_kind();
        IF o_org IS NULL OR o_kind IS NULL THEN
            RAISE EXCEPTION 'no tenant context' USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF o_kind = 'agency' THEN
            o_workspace := enclave.current_workspace_id();
            IF o_workspace IS NULL THEN
                RAISE EXCEPTION 'open a client first' USING ERRCODE = 'insufficient_privilege';
            END IF;
        END IF;
    END $$;

CREATE FUNCTION enclave.save_persona(
        p_persona uuid, p_name text, p_role_title text, p_goals text, p_pains text, p_channels text[])
    RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE s record := enclave.require_scope(); v_id uuid := coalesce(p_persona, gen_random_uuid());
    BEGIN
        IF s.o_kind = 'sme' THEN
            INSERT INTO public.personas AS p (org_id, persona_id, name, role_title, goals, pains, channels, updated_by)
            VALUES (s.o_org, v_id, p_name, coalesce(p_role_title, ''), coalesce(p_goals, ''), coalesce(p_pains, ''),
                    coalesce(p_channels, '{}'), enclave.current_user_id())
            ON CONFLICT (org_id, persona_id) DO UPDATE
               SET name = EXCLUDED.name, role_title = EXCLUDED.role_title, goals = EXCLUDED.goals,
                   pains = EXCLUDED.pains, channels = EXCLUDED.channels, updated_at = now(),
                   updated_by = EXCLUDED.updated_by;
        ELSE
            INSERT INTO agency.personas AS p (org_id, workspace_id, persona_id, name, role_title, goals, pains, channels, updated_by)
            VALUES (s.o_org, s.o_workspace, v_id, p_name, coalesce(p_role_title, ''), coalesce(p_goals, ''),
                    coalesce(p_pains, ''), coalesce(p_channels, '{}'), enclave.current_user_id())
            ON CONFLICT (org_id, workspace_id, persona_id) DO UPDATE
               SET name = EXCLUDED.name, role_title = EXCLUDED.role_title, goals = EXCLUDED.goals,
                   pains = EXCLUDED.pains, channels = EXCLUDED.channels, updated_at = now(),
                   updated_by = EXCLUDED.updated_by;
        END IF;
        RETURN v_id;
    END $$;

CREATE FUNCTION enclave.save_campaign(
        p_campaign uuid, p_name text, p_objective text, p_channels text[], p_budget_cents bigint,
        p_starts_on date, p_ends_on date, p_status text, p_owner uuid)
    RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE s record := enclave.require_scope(); v_id uuid := coalesce(p_campaign, gen_random_uuid());
    BEGIN
        IF s.o_kind = 'sme' THEN
            INSERT INTO public.campaigns AS c (org_id, campaign_id, name, objective, channels, budget_cents,
                                               starts_on, ends_on, status, owner_id)
            VALUES (s.o_org, v_id, p_name, coalesce(p_objective, ''), coalesce(p_channels, '{}'), p_budget_cents,
                    p_starts_on, p_ends_on, coalesce(p_status, 'draft'), p_owner)
            ON CONFLICT (org_id, campaign_id) DO UPDATE
               SET name = EXCLUDED.name, objective = EXCLUDED.objective, channels = EXCLUDED.channels,
                   budget_cents = EXCLUDED.budget_cents, starts_on = EXCLUDED.starts_on,
                   ends_on = EXCLUDED.ends_on, status = EXCLUDED.status, owner_id = EXCLUDED.owner_id,
                   updated_at = now();
        ELSE
            INSERT INTO agency.campaigns AS c (org_id, workspace_id, campaign_id, name, objective, channels,
                                               budget_cents, starts_on, ends_on, status, owner_id)
            VALUES (s.o_org, s.o_workspace, v_id, p_name, coalesce(p_objective, ''), coalesce(p_channels, '{}'),
                    p_budget_cents, p_starts_on, p_ends_on, coalesce(p_status, 'draft'), p_owner)
            ON CONFLICT (org_id, workspace_id, campaign_id) DO UPDATE
               SET name = EXCLUDED.name, objective = EXCLUDED.objective, channels = EXCLUDED.channels,
                   budget_cents = EXCLUDED.budget_cents, starts_on = EXCLUDED.starts_on,
                   ends_on = EXCLUDED.ends_on, status = EXCLUDED.status, owner_id = EXCLUDED.owner_id,
                   updated_at = now();
        END IF;
        RETURN v_id;
    END $$;

CREATE FUNCTION enclave.save_campaign_output(
        p_campaign uuid, p_output uuid, p_channel text, p_headline text, p_body text, p_status text)
    RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE s record := enclave.require_scope(); v_id uuid := coalesce(p_output, gen_random_uuid());
    BEGIN
        IF s.o_kind = 'sme' THEN
            INSERT INTO public.campaign_outputs AS o (org_id, campaign_id, output_id, channel, headline, body, status)
            VALUES (s.o_org, p_campaign, v_id, p_channel, coalesce(p_headline, ''), coalesce(p_body, ''),
                    coalesce(p_status, 'draft'))
            ON CONFLICT (org_id, campaign_id, output_id) DO UPDATE
               SET channel = EXCLUDED.channel, headline = EXCLUDED.headline, body = EXCLUDED.body,
                   status = EXCLUDED.status, updated_at = now();
        ELSE
            INSERT INTO agency.campaign_outputs AS o (org_id, workspace_id, campaign_id, output_id, channel,
                                                      headline, body, status)
            VALUES (s.o_org, s.o_workspace, p_campaign, v_id, p_channel, coalesce(p_headline, ''),
                    coalesce(p_body, ''), coalesce(p_status, 'draft'))
            ON CONFLICT (org_id, workspace_id, campaign_id, output_id) DO UPDATE
               SET channel = EXCLUDED.channel, headline = EXCLUDED.headline, body = EXCLUDED.body,
                   status = EXCLUDED.status, updated_at = now();
        END IF;
        RETURN v_id;
    END $$;

-- Deletes: p_resource names the table ('personas', 'campaigns', 'campaign_outputs'); the id
-- is looked for only in the current scope. Returns whether a row was deleted.
CREATE FUNCTION enclave.delete_resource(p_resource text, p_id uuid) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        s record := enclave.require_scope();
        v_key text := CASE p_resource WHEN 'personas' THEN 'persona_id'
                                      WHEN 'campaigns' THEN 'campaign_id'
                                      WHEN 'campaign_outputs' THEN 'output_id' END;
        v_count integer;
    BEGIN
        IF v_key IS NULL THEN
            RAISE EXCEPTION 'unknown resource %', p_resource USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF s.o_kind = 'sme' THEN
            EXECUTE format('DELETE FROM public.%I WHERE org_id = $1 AND %I = $2', p_resource, v_key)
              USING s.o_org, p_id;
        ELSE
            EXECUTE format('DELETE FROM agency.%I WHERE org_id = $1 AND workspace_id = $3 AND %I = $2',
                           p_resource, v_key)
              USING s.o_org, p_id, s.o_workspace;
        END IF;
        GET DIAGNOSTICS v_count = ROW_COUNT;
        RETURN v_count > 0;
    END $$;

GRANT SELECT ON public.personas, public.campaigns, public.campaign_outputs, public.brand_guideline_versions,
                agency.personas, agency.campaigns, agency.campaign_outputs, agency.brand_guideline_versions,
                public.personas_unified, public.campaigns_unified, public.campaign_outputs_unified,
                public.brand_guideline_versions_unified, public.workspace_counts
    TO enclave_runtime;
GRANT EXECUTE ON FUNCTION
    enclave.save_persona(uuid, text, text, text, text, text[]),
    enclave.save_campaign(uuid, text, text, text[], bigint, date, date, text, uuid),
    enclave.save_campaign_output(uuid, uuid, text, text, text, text),
    enclave.delete_resource(text, uuid)
    TO enclave_runtime;
