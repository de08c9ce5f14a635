-- Billing, step 3 (issue 11, docs/BILLING.md): the plan's limits, enforced where every
-- write passes, so no code path above the database can skip them.
--
-- * Seats (members plus pending invitations) on inviting and on accepting: restrictive
--   policies on the two tables (`require_seat`), whatever function or statement inserts.
-- * Client workspaces: when a client is added or restored (add_client, archive_client).
-- * Generated outputs per billing period: `usage_counters`, consumed by
--   save_generated_output only when it inserted the draft, so a retried job (same key)
--   never counts twice.
-- * Past due beyond the grace period: restrictive policies refuse writes to the
--   marketing content (reads keep working; members, invitations, jobs and billing stay
--   writable, so an owner can still pay, remove people and see jobs end).
-- Refusals raise SQLSTATE EN402 with words that send people to the Billing page.
-- Plans granted without Stripe (enclave.plan_grants: the demo tenants, later the
-- platform admins' comps) count like a subscription's plan.

-- Plans granted by the platform, not bought: no Stripe customer, no expiry unless set.
CREATE TABLE enclave.plan_grants (
    org_id     uuid PRIMARY KEY REFERENCES public.organizations (id),
    plan_id    text NOT NULL REFERENCES enclave.plans (plan_id),
    reason     text NOT NULL CHECK (length(btrim(reason)) BETWEEN 1 AND 200),
    granted_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz
);
COMMENT ON TABLE enclave.plan_grants IS 'enclave:platform plans the platform granted an organization without Stripe (demo tenants, comps); members read their own, the system path writes.';
ALTER TABLE enclave.plan_grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE enclave.plan_grants FORCE ROW LEVEL SECURITY;
CREATE POLICY plan_grants_own ON enclave.plan_grants FOR SELECT
    USING (org_id = (SELECT enclave.current_org_id()));
CREATE POLICY plan_grants_system_path ON enclave.plan_grants
    USING ((SELECT enclave.system_path_active()))
    WITH CHECK ((SELECT enclave.system_path_active()));
GRANT SELECT ON enclave.plan_grants TO enclave_runtime;

-- Grants a plan on the system path (seeding, operators); audited.
CREATE FUNCTION enclave.grant_plan(p_org uuid, p_plan text, p_reason text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        PERFORM enclave.require_system_path('grant a plan');
        IF NOT EXISTS (SELECT 1 FROM enclave.plans p JOIN public.organizations o ON o.kind = p.org_kind
                        WHERE o.id = p_org AND p.plan_id = p_plan) THEN
            RAISE EXCEPTION 'plan % does not exist or is not for this kind of organization', p_plan
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        INSERT INTO enclave.plan_grants (org_id, plan_id, reason) VALUES (p_org, p_plan, p_reason)
        ON CONFLICT (org_id) DO UPDATE SET plan_id = EXCLUDED.plan_id, reason = EXCLUDED.reason,
                                           granted_at = now(), expires_at = NULL;
        INSERT INTO enclave.audit_log (path, actor, org_id, action, detail)
             VALUES ('system', 'billing', p_org, 'grant plan',
                     jsonb_build_object('plan', p_plan, 'reason', p_reason));
    END $$;

-- The plan in force: a live subscription's (trialing, active, past due), else a grant
-- that has not expired, else Free for the organization's kind.
CREATE OR REPLACE FUNCTION enclave.current_plan() RETURNS text
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_org uuid := enclave.current_org_id();
        v_plan text;
    BEGIN
        SELECT b.plan_id INTO v_plan FROM public.org_billing b
         WHERE b.org_id = v_org AND b.status IN ('trialing', 'active', 'past_due');
        IF v_plan IS NULL THEN
            SELECT g.plan_id INTO v_plan FROM enclave.plan_grants g
             WHERE g.org_id = v_org AND (g.expires_at IS NULL OR g.expires_at > now());
        END IF;
        IF v_plan IS NULL THEN
            SELECT p.plan_id INTO v_plan FROM enclave.plans p
              JOIN public.organizations o ON o.kind = p.org_kind
             WHERE o.id = v_org AND p.is_free;
        END IF;
        RETURN v_plan;
    END $$;

-- Where the current billing period began: the subscription's period, else the month.
CREATE FUNCTION enclave.current_period_start() RETURNS timestamptz
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT coalesce(
            (SELECT b.current_period_start FROM public.org_billing b
              WHERE b.org_id = enclave.current_org_id()
                AND b.status IN ('trialing', 'active', 'past_due')
                AND b.current_period_start <= now()),
            date_trunc('month', now()))
    $$;

-- Generated outputs counted per organization and billing period.
CREATE TABLE public.usage_counters (
    org_id       uuid NOT NULL REFERENCES public.organizations (id),
    period_start timestamptz NOT NULL,
    outputs      integer NOT NULL DEFAULT 0 CHECK (outputs >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, period_start)
);
ALTER TABLE public.usage_counters ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.usage_counters FORCE ROW LEVEL SECURITY;
-- Members read their organization's counters; only consume_outputs (a definer function,
-- owner role under FORCE) writes them, in the organization's own context.
CREATE POLICY usage_counters_org ON public.usage_counters
    USING (org_id = (SELECT enclave.current_org_id()))
    WITH CHECK (org_id = (SELECT enclave.current_org_id()));
GRANT SELECT ON public.usage_counters TO enclave_runtime;

-- The refusal every limit raises: its own SQLSTATE, words that say what to do.
CREATE FUNCTION enclave.refuse_over_limit(p_words text) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        RAISE EXCEPTION '%', p_words USING ERRCODE = 'EN402';
    END $$;

-- Refuses writes once a past-due organization's grace period has ended.
CREATE FUNCTION enclave.require_writable() RETURNS boolean
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE v_grace timestamptz;
    BEGIN
        SELECT b.grace_ends_at INTO v_grace FROM public.org_billing b
         WHERE b.org_id = enclave.current_org_id() AND b.status = 'past_due';
        IF v_grace IS NOT NULL AND v_grace <= now() THEN
            PERFORM enclave.refuse_over_limit(format(
                'This organization''s payment is overdue and its grace period ended on %s, so Enclave is read-only until it is paid. Nothing was changed. An owner can pay on the Billing page.',
                to_char(v_grace AT TIME ZONE 'UTC', 'FMDD Mon YYYY')));
        END IF;
        RETURN true;
    END $$;

-- Refuses a new seat when the plan's seats are taken. An invitation needs members plus
-- pending invitations below the limit; accepting one takes the seat its invitation held,
-- so the members alone must leave room for one more. Taking turns per organization, so
-- two at once cannot both take the last seat. The system path (seeding, operators) is
-- not limited.
CREATE FUNCTION enclave.require_seat(p_inviting boolean) RETURNS boolean
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_org uuid := enclave.current_org_id();
        v_seats integer;
        v_used bigint;
    BEGIN
        IF v_org IS NULL OR enclave.system_path_active() THEN
            RETURN true;
        END IF;
        SELECT p.seats INTO v_seats FROM enclave.plans p WHERE p.plan_id = enclave.current_plan();
        IF v_seats IS NULL THEN
            RETURN true;
        END IF;
        PERFORM pg_advisory_xact_lock(7235017, hashtext(v_org::text));
        SELECT (SELECT count(*) FROM public.memberships m WHERE m.org_id = v_org)
             + CASE WHEN p_inviting THEN
                   (SELECT count(*) FROM public.invitations i
                     WHERE i.org_id = v_org AND i.accepted_at IS NULL AND i.revoked_at IS NULL
                       AND i.expires_at > now())
               ELSE 0 END
          INTO v_used;
        IF v_used >= v_seats THEN
            PERFORM enclave.refuse_over_limit(CASE WHEN p_inviting THEN format(
                'All %s seats of this organization''s plan are in use (members and pending invitations). An owner can choose a plan with more seats on the Billing page, or withdraw a pending invitation.',
                v_seats) ELSE format(
                'This organization''s plan has %s seats and all are taken, so the invitation cannot be accepted now. Ask its owner to add seats on the Billing page.',
                v_seats) END);
        END IF;
        RETURN true;
    END $$;

-- Checked per statement (an init plan), so a multi-row insert takes its turn once.
CREATE POLICY invitations_need_a_seat ON public.invitations AS RESTRICTIVE FOR INSERT
    WITH CHECK ((SELECT enclave.require_seat(true)));
CREATE POLICY memberships_need_a_seat ON public.memberships AS RESTRICTIVE FOR INSERT
    WITH CHECK ((SELECT enclave.require_seat(false)));

-- A client workspace slot: refused when the open (not archived) clients fill the plan.
CREATE FUNCTION enclave.require_client_slot(p_org uuid) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_limit integer;
        v_open bigint;
    BEGIN
        SELECT p.client_workspaces INTO v_limit FROM enclave.plans p WHERE p.plan_id = enclave.current_plan();
        IF v_limit IS NULL THEN
            RETURN;
        END IF;
        PERFORM pg_advisory_xact_lock(7235018, hashtext(p_org::text));
        SELECT count(*) INTO v_open FROM agency.client_workspaces w
         WHERE w.org_id = p_org AND w.archived_at IS NULL;
        IF v_open >= v_limit THEN
            PERFORM enclave.refuse_over_limit(format(
                'This agency''s plan includes %s open client workspaces and all are in use. An owner can choose a plan with more on the Billing page, or archive a client you no longer work for.',
                v_limit));
        END IF;
    END $$;

-- As in 0008, with the client slot checked first.
CREATE OR REPLACE FUNCTION enclave.add_client(p_name text) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_org  uuid := enclave.require_agency_manager();
        v_name text := enclave.check_client_name(p_name);
        v_base text := left(trim(BOTH '-' FROM regexp_replace(lower(v_name), '[^a-z0-9]+', '-', 'g')), 40);
        v_id   uuid;
    BEGIN
        PERFORM enclave.require_client_slot(v_org);
        IF length(v_base) < 2 THEN
            v_base := 'client';
        END IF;
        FOR attempt IN 1..5 LOOP
            BEGIN
                INSERT INTO agency.client_workspaces (org_id, name, slug)
                     VALUES (v_org, v_name, CASE WHEN attempt = 1 THEN v_base
                                                 ELSE v_base || '-' || substr(md5(random()::text), 1, 6) END)
                  RETURNING workspace_id INTO v_id;
                EXIT;
            EXCEPTION WHEN unique_violation THEN
                v_id := NULL;
            END;
        END LOOP;
        IF v_id IS NULL THEN
            RAISE EXCEPTION 'could not find a free address for this client; try another name'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM enclave.audit_tenant('add client', jsonb_build_object('workspace_id', v_id, 'name', v_name));
        RETURN v_id;
    END $$;

-- As in 0008, with the client slot checked when an archived client is restored.
CREATE OR REPLACE FUNCTION enclave.archive_client(p_workspace uuid, p_archived boolean) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE v_org uuid := enclave.require_agency_manager();
    BEGIN
        IF NOT p_archived AND EXISTS (SELECT 1 FROM agency.client_workspaces w
                                       WHERE w.org_id = v_org AND w.workspace_id = p_workspace
                                         AND w.archived_at IS NOT NULL) THEN
            PERFORM enclave.require_client_slot(v_org);
        END IF;
        UPDATE agency.client_workspaces
           SET archived_at = CASE WHEN p_archived THEN coalesce(archived_at, now()) END
         WHERE org_id = v_org AND workspace_id = p_workspace;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'that client is not in this organization' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM enclave.audit_tenant(CASE WHEN p_archived THEN 'archive client' ELSE 'restore client' END,
                                     jsonb_build_object('workspace_id', p_workspace));
    END $$;

-- Consumes generated outputs of the current period, refusing past the plan's quota.
-- The one place usage is counted. Not granted: only save_generated_output calls it.
CREATE FUNCTION enclave.consume_outputs(p_count integer) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_org uuid := enclave.current_org_id();
        v_quota integer;
        v_used integer;
    BEGIN
        SELECT p.outputs_per_period INTO v_quota FROM enclave.plans p WHERE p.plan_id = enclave.current_plan();
        INSERT INTO public.usage_counters AS u (org_id, period_start, outputs)
             VALUES (v_org, enclave.current_period_start(), p_count)
        ON CONFLICT (org_id, period_start) DO UPDATE SET outputs = u.outputs + p_count, updated_at = now()
          RETURNING u.outputs INTO v_used;
        IF v_quota IS NOT NULL AND v_used > v_quota THEN
            PERFORM enclave.refuse_over_limit(format(
                'This organization has used all %s generated outputs of its plan for this billing period. An owner can choose a larger plan on the Billing page; the count starts again with the next period.',
                v_quota));
        END IF;
    END $$;

-- As in 0011: saves a generated draft once per key; a draft it did save consumes one
-- output of the quota (refused past it, and then the draft is not saved either).
CREATE OR REPLACE FUNCTION enclave.save_generated_output(p_campaign uuid, p_key text, p_channel text,
                                                         p_headline text, p_body text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE s record := enclave.require_scope(); v_count integer;
    BEGIN
        IF p_key IS NULL THEN
            RAISE EXCEPTION 'a generated output needs its key' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF s.o_kind = 'sme' THEN
            INSERT INTO public.campaign_outputs (org_id, campaign_id, channel, headline, body, generation_key)
            VALUES (s.o_org, p_campaign, p_channel, p_headline, p_body, p_key)
            ON CONFLICT (org_id, campaign_id, generation_key) WHERE generation_key IS NOT NULL DO NOTHING;
        ELSE
            INSERT INTO agency.campaign_outputs (org_id, workspace_id, campaign_id, channel, headline, body, generation_key)
            VALUES (s.o_org, s.o_workspace, p_campaign, p_channel, p_headline, p_body, p_key)
            ON CONFLICT (org_id, workspace_id, campaign_id, generation_key) WHERE generation_key IS NOT NULL DO NOTHING;
        END IF;
        GET DIAGNOSTICS v_count = ROW_COUNT;
        IF v_count = 1 THEN
            PERFORM enclave.consume_outputs(1);
        END IF;
        RETURN v_count = 1;
    END $$;

-- Read-only once the grace period is over: the marketing content refuses inserts,
-- updates and deletes (one check per statement).
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'public.brand_guidelines', 'public.brand_guideline_versions', 'public.personas',
        'public.campaigns', 'public.campaign_outputs', 'public.import_batches',
        'agency.brand_guidelines', 'agency.brand_guideline_versions', 'agency.personas',
        'agency.campaigns', 'agency.campaign_outputs', 'agency.import_batches',
        'agency.client_workspaces']
    LOOP
        EXECUTE format('CREATE POLICY billing_writable_insert ON %s AS RESTRICTIVE FOR INSERT WITH CHECK ((SELECT enclave.require_writable()))', t);
        EXECUTE format('CREATE POLICY billing_writable_update ON %s AS RESTRICTIVE FOR UPDATE USING ((SELECT enclave.require_writable()))', t);
        EXECUTE format('CREATE POLICY billing_writable_delete ON %s AS RESTRICTIVE FOR DELETE USING ((SELECT enclave.require_writable()))', t);
    END LOOP;
END $$;

-- What counts against the limits, now with the outputs of this period.
DROP FUNCTION enclave.billing_usage();
CREATE FUNCTION enclave.billing_usage(OUT o_seats bigint, OUT o_client_workspaces bigint, OUT o_outputs bigint)
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE v_org uuid := enclave.current_org_id();
    BEGIN
        IF v_org IS NULL OR enclave.current_member_role() IS NULL THEN
            RAISE EXCEPTION 'no tenant context' USING ERRCODE = 'insufficient_privilege';
        END IF;
        SELECT (SELECT count(*) FROM public.memberships m WHERE m.org_id = v_org)
             + (SELECT count(*) FROM public.invitations i
                 WHERE i.org_id = v_org AND i.accepted_at IS NULL AND i.revoked_at IS NULL
                   AND i.expires_at > now()),
               (SELECT count(*) FROM agency.client_workspaces w
                 WHERE w.org_id = v_org AND w.archived_at IS NULL),
               coalesce((SELECT u.outputs FROM public.usage_counters u
                          WHERE u.org_id = v_org AND u.period_start = enclave.current_period_start()), 0)
          INTO o_seats, o_client_workspaces, o_outputs;
    END $$;

GRANT EXECUTE ON FUNCTION
    enclave.billing_usage(),
    enclave.grant_plan(uuid, text, text),
    enclave.current_period_start()
    TO enclave_runtime;
INSERT INTO enclave.definer_registry (function, path, rules) VALUES
    ('enclave.grant_plan(uuid, text, text)', 'system',
     'system_path_active; the plan must exist for the organization''s kind; audited');
