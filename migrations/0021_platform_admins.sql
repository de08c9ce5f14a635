-- The platform admins' console (issue 12, docs/ADMIN.md): who is an admin, and the one
-- door every admin request goes through.
--
-- * enclave.platform_admins: granted and revoked by the operator (`enclave admin grant`,
--   `revoke`, `list`) on the audited system path. Revoking keeps the row.
-- * enclave.admin_begin is the first statement of every admin transaction. It writes the
--   transaction's system audit row naming the admin (so system_path_active() holds for
--   the rest of the transaction, and every admin read and change is in the log), then
--   refuses unless the user holds an unrevoked grant at that moment and, for a change,
--   signed in less than 15 minutes ago. A refusal rolls the row back with the rest.
-- * Admin reads of what the runtime role may not read itself (the audit log, per-tenant
--   counts) are definer functions that check enclave.require_admin(). No tenant policy
--   gets an "admin OR ..." clause: the console reads tenant tables only through these.
-- * Entitlement overrides: an admin lifts (or lowers) one limit of one organization, with
--   a reason and an optional expiry. enclave.current_limits() is the plan in force with
--   its live overrides applied, and every limit check of 0017 and 0020 now reads it.
-- * The overview's history: enclave.mrr_daily (one row per day and plan, written by the
--   daily `mrr_snapshot` system job) and public.usage_daily (generated outputs per
--   organization and day, counted where usage_counters is).
-- * Indexes for the organizations page's search, filters and sorts.

CREATE TABLE enclave.platform_admins (
    user_id     uuid PRIMARY KEY REFERENCES public.users (id),
    granted_at  timestamptz NOT NULL DEFAULT now(),
    granted_by  text NOT NULL CHECK (length(btrim(granted_by)) BETWEEN 1 AND 200),
    revoked_at  timestamptz,
    revoked_by  text CHECK (length(btrim(revoked_by)) BETWEEN 1 AND 200),
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
COMMENT ON TABLE enclave.platform_admins IS 'enclave:platform the people the operator made platform admins (revoked rows kept); the system path only, the runtime role has no grant.';
ALTER TABLE enclave.platform_admins ENABLE ROW LEVEL SECURITY;
ALTER TABLE enclave.platform_admins FORCE ROW LEVEL SECURITY;
CREATE POLICY platform_admins_system_path ON enclave.platform_admins
    USING ((SELECT enclave.system_path_active()))
    WITH CHECK ((SELECT enclave.system_path_active()));

-- Operator commands -----------------------------------------------------------------------
-- A verified address of an existing user only: an admin is a person who signed in.
CREATE FUNCTION enclave.admin_grant(p_email text, p_by text) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE v_user uuid;
    BEGIN
        PERFORM enclave.require_system_path('grant platform admin rights');
        SELECT u.id INTO v_user FROM public.users u
         WHERE lower(u.email) = lower(btrim(p_email)) AND u.email_verified;
        IF v_user IS NULL THEN
            RAISE EXCEPTION 'no user has the verified address %: they must sign in once first', p_email
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        INSERT INTO enclave.platform_admins (user_id, granted_by) VALUES (v_user, p_by)
        ON CONFLICT (user_id) DO UPDATE
           SET granted_at = now(), granted_by = EXCLUDED.granted_by, revoked_at = NULL, revoked_by = NULL;
        PERFORM enclave.audit_system('grant platform admin', NULL,
            jsonb_build_object('user_id', v_user, 'email', p_email, 'by', p_by));
        RETURN v_user;
    END $$;

CREATE FUNCTION enclave.admin_revoke(p_email text, p_by text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE v_user uuid;
    BEGIN
        PERFORM enclave.require_system_path('revoke platform admin rights');
        UPDATE enclave.platform_admins a SET revoked_at = now(), revoked_by = p_by
          FROM public.users u
         WHERE u.id = a.user_id AND lower(u.email) = lower(btrim(p_email)) AND a.revoked_at IS NULL
        RETURNING a.user_id INTO v_user;
        IF v_user IS NULL THEN
            RETURN false;
        END IF;
        PERFORM enclave.audit_system('revoke platform admin', NULL,
            jsonb_build_object('user_id', v_user, 'email', p_email, 'by', p_by));
        RETURN true;
    END $$;

CREATE FUNCTION enclave.admin_list()
    RETURNS TABLE (user_id uuid, email text, display_name text, granted_at timestamptz,
                   granted_by text, revoked_at timestamptz, revoked_by text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        PERFORM enclave.require_system_path('list platform admins');
        RETURN QUERY
            SELECT a.user_id, u.email, u.display_name, a.granted_at, a.granted_by, a.revoked_at, a.revoked_by
              FROM enclave.platform_admins a JOIN public.users u ON u.id = a.user_id
             ORDER BY a.revoked_at IS NOT NULL, u.email;
    END $$;

-- The door ------------------------------------------------------------------------------
CREATE FUNCTION enclave.admin_begin(p_user uuid, p_signed_in_at timestamptz, p_change boolean,
                                    p_action text, p_org uuid, p_detail jsonb) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        IF enclave.current_org_id() IS NOT NULL OR enclave.system_path_active() THEN
            RAISE EXCEPTION 'admin_begin must be the first statement of its own transaction'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
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

-- The admin of this transaction, confirmed again: the one its first system row names,
-- holding an unrevoked grant. Internal (not granted): the admin functions call it.
CREATE FUNCTION enclave.require_admin() RETURNS uuid
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_actor text;
        v_admin uuid;
    BEGIN
        PERFORM enclave.require_system_path('use the admin console');
        SELECT a.actor INTO v_actor FROM enclave.audit_log a
         WHERE a.xact_id = pg_current_xact_id() AND a.path = 'system'
         ORDER BY a.id LIMIT 1;
        IF v_actor LIKE 'admin:%' THEN
            SELECT p.user_id INTO v_admin FROM enclave.platform_admins p
             WHERE p.user_id = substr(v_actor, 7)::uuid AND p.revoked_at IS NULL;
        END IF;
        IF v_admin IS NULL THEN
            RAISE EXCEPTION 'only platform admins can do this' USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN v_admin;
    END $$;

-- Admin reads -----------------------------------------------------------------------------
-- Per-organization counts for a page of organizations, each counted in the organization's
-- own context as its first owner (so the client and invitation policies apply as they
-- would to that owner), the context restored after.
CREATE FUNCTION enclave.admin_org_usage(p_orgs uuid[])
    RETURNS TABLE (org_id uuid, members bigint, pending_invitations bigint,
                   open_clients bigint, outputs_this_period bigint)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_was_org text := current_setting('enclave.org_id', true);
        v_was_user text := current_setting('enclave.user_id', true);
        v_org uuid;
        v_owner uuid;
    BEGIN
        PERFORM enclave.require_admin();
        IF coalesce(array_length(p_orgs, 1), 0) > 200 THEN
            RAISE EXCEPTION 'at most 200 organizations at a time' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        FOREACH v_org IN ARRAY coalesce(p_orgs, '{}') LOOP
            PERFORM set_config('enclave.org_id', v_org::text, true);
            PERFORM set_config('enclave.user_id', '', true);
            SELECT m.user_id INTO v_owner FROM public.memberships m
             WHERE m.org_id = v_org AND m.role = 'owner' ORDER BY m.created_at LIMIT 1;
            PERFORM set_config('enclave.user_id', coalesce(v_owner::text, ''), true);
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
        PERFORM set_config('enclave.org_id', coalesce(v_was_org, ''), true);
        PERFORM set_config('enclave.user_id', coalesce(v_was_user, ''), true);
    END $$;

-- The audit log, newest first, filtered; `p_before` pages by id. Admins are shown by
-- their address and organizations by name beside the ids the rows keep.
CREATE FUNCTION enclave.admin_audit(p_org uuid, p_actor text, p_action text, p_before bigint, p_limit integer)
    RETURNS TABLE (id bigint, at timestamptz, path text, actor text, action text, org_id uuid, detail jsonb,
                   actor_email text, org_name text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        PERFORM enclave.require_admin();
        RETURN QUERY
            SELECT a.id, a.at, a.path, a.actor, a.action, a.org_id, a.detail,
                   (SELECT u.email FROM public.users u
                     WHERE a.actor ~ '^admin:[0-9a-f-]{36}$' AND u.id = substr(a.actor, 7)::uuid),
                   (SELECT o.name FROM public.organizations o WHERE o.id = a.org_id)
              FROM enclave.audit_log a
             WHERE (p_org IS NULL OR a.org_id = p_org)
               AND (p_actor IS NULL OR a.actor ILIKE p_actor || '%')
               AND (p_action IS NULL OR a.action ILIKE '%' || p_action || '%')
               AND (p_before IS NULL OR a.id < p_before)
             ORDER BY a.id DESC
             LIMIT least(greatest(coalesce(p_limit, 50), 1), 200);
    END $$;

-- Organizations created, and subscriptions that became canceled, per week (UTC Mondays).
CREATE FUNCTION enclave.admin_org_weeks(p_weeks integer)
    RETURNS TABLE (week date, created bigint, churned bigint)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        PERFORM enclave.require_admin();
        RETURN QUERY
            WITH weeks AS (
                SELECT generate_series(date_trunc('week', now() AT TIME ZONE 'UTC')
                                         - make_interval(weeks => least(greatest(p_weeks, 1), 104) - 1),
                                       date_trunc('week', now() AT TIME ZONE 'UTC'), interval '1 week')::date AS w)
            SELECT weeks.w,
                   (SELECT count(*) FROM public.organizations o
                     WHERE o.created_at >= weeks.w AND o.created_at < weeks.w + 7),
                   (SELECT count(DISTINCT a.org_id) FROM enclave.audit_log a
                     WHERE a.action = 'apply subscription state' AND a.at >= weeks.w AND a.at < weeks.w + 7
                       AND a.detail ->> 'status' = 'canceled'
                       AND a.detail ->> 'was' IS DISTINCT FROM 'canceled')
              FROM weeks ORDER BY weeks.w;
    END $$;

-- Admin changes ---------------------------------------------------------------------------
-- Moves a past-due organization's grace end later. The admin's own row (admin_begin) says
-- who and why; this adds no second one.
CREATE FUNCTION enclave.admin_extend_grace(p_org uuid, p_until timestamptz) RETURNS timestamptz
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE v_before timestamptz;
    BEGIN
        PERFORM enclave.require_admin();
        SELECT b.grace_ends_at INTO v_before FROM public.org_billing b
         WHERE b.org_id = p_org AND b.status = 'past_due' FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'only a past-due organization has a grace period to extend'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF p_until IS NULL OR p_until <= greatest(v_before, now()) THEN
            RAISE EXCEPTION 'the new end of the grace period must be later than the current one (%)',
                to_char(v_before AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"')
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF p_until > now() + interval '90 days' THEN
            RAISE EXCEPTION 'a grace period can be extended by at most 90 days from now'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        UPDATE public.org_billing SET grace_ends_at = p_until WHERE org_id = p_org;
        RETURN v_before;
    END $$;


-- Entitlement overrides ----------------------------------------------------------------------
CREATE TABLE enclave.entitlement_overrides (
    org_id      uuid NOT NULL REFERENCES public.organizations (id),
    -- A limit of enclave.plans, or a feature (value 1: included, 0: not).
    feature     text NOT NULL CHECK (feature IN ('seats', 'client_workspaces', 'outputs_per_period',
                                                 'external_generator')),
    -- The new limit; NULL means unlimited (limits only).
    value       integer CHECK (value >= 0),
    reason      text NOT NULL CHECK (length(btrim(reason)) BETWEEN 1 AND 200),
    expires_at  timestamptz,
    granted_by  uuid NOT NULL,
    granted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, feature),
    CHECK (feature <> 'external_generator' OR value IN (0, 1))
);
COMMENT ON TABLE enclave.entitlement_overrides IS 'enclave:platform limits and features a platform admin set for one organization, over its plan; members read their own, admins write.';
ALTER TABLE enclave.entitlement_overrides ENABLE ROW LEVEL SECURITY;
ALTER TABLE enclave.entitlement_overrides FORCE ROW LEVEL SECURITY;
CREATE POLICY entitlement_overrides_own ON enclave.entitlement_overrides FOR SELECT
    USING (org_id = (SELECT enclave.current_org_id()));
CREATE POLICY entitlement_overrides_system_path ON enclave.entitlement_overrides
    USING ((SELECT enclave.system_path_active()))
    WITH CHECK ((SELECT enclave.system_path_active()));
GRANT SELECT ON enclave.entitlement_overrides TO enclave_runtime;

-- The limits in force for the organization of the context: its plan's, with live
-- overrides applied. NULL limits are unlimited.
CREATE FUNCTION enclave.current_limits(OUT seats integer, OUT client_workspaces integer,
                                       OUT outputs_per_period integer, OUT features text[])
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE o record;
    BEGIN
        SELECT p.seats, p.client_workspaces, p.outputs_per_period, p.features
          INTO seats, client_workspaces, outputs_per_period, features
          FROM enclave.plans p WHERE p.plan_id = enclave.current_plan();
        FOR o IN SELECT e.feature, e.value FROM enclave.entitlement_overrides e
                  WHERE e.org_id = enclave.current_org_id()
                    AND (e.expires_at IS NULL OR e.expires_at > now()) LOOP
            CASE o.feature
                WHEN 'seats' THEN seats := o.value;
                WHEN 'client_workspaces' THEN client_workspaces := o.value;
                WHEN 'outputs_per_period' THEN outputs_per_period := o.value;
                WHEN 'external_generator' THEN
                    features := array_remove(features, 'external_generator');
                    IF o.value = 1 THEN
                        features := array_append(features, 'external_generator'::text);
                    END IF;
            END CASE;
        END LOOP;
    END $$;

-- As in 0017 and 0020, with the limits read from current_limits().
CREATE OR REPLACE FUNCTION enclave.require_seat(p_inviting boolean) RETURNS boolean
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
        SELECT l.seats INTO v_seats FROM enclave.current_limits() l;
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

CREATE OR REPLACE FUNCTION enclave.require_client_slot(p_org uuid) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_limit integer;
        v_open bigint;
    BEGIN
        SELECT l.client_workspaces INTO v_limit FROM enclave.current_limits() l;
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

CREATE OR REPLACE FUNCTION enclave.consume_outputs(p_count integer) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_org uuid := enclave.current_org_id();
        v_quota integer;
        v_used integer;
    BEGIN
        SELECT l.outputs_per_period INTO v_quota FROM enclave.current_limits() l;
        INSERT INTO public.usage_counters AS u (org_id, period_start, outputs)
             VALUES (v_org, enclave.current_period_start(), p_count)
        ON CONFLICT (org_id, period_start) DO UPDATE SET outputs = u.outputs + p_count, updated_at = now()
          RETURNING u.outputs INTO v_used;
        INSERT INTO public.usage_daily AS d (org_id, day, outputs)
             VALUES (v_org, (now() AT TIME ZONE 'UTC')::date, p_count)
        ON CONFLICT (org_id, day) DO UPDATE SET outputs = d.outputs + p_count;
        IF v_quota IS NOT NULL AND v_used > v_quota THEN
            PERFORM enclave.refuse_over_limit(format(
                'This organization has used all %s generated outputs of its plan for this billing period. An owner can choose a larger plan on the Billing page; the count starts again with the next period.',
                v_quota));
        END IF;
    END $$;

CREATE OR REPLACE FUNCTION enclave.check_generation(p_drafts integer, p_feature text) RETURNS boolean
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_org uuid := enclave.current_org_id();
        v_quota integer;
        v_features text[];
        v_used integer;
    BEGIN
        IF v_org IS NULL THEN
            RAISE EXCEPTION 'no tenant context' USING ERRCODE = 'insufficient_privilege';
        END IF;
        PERFORM enclave.require_writable();
        SELECT l.outputs_per_period, l.features INTO v_quota, v_features FROM enclave.current_limits() l;
        SELECT coalesce((SELECT u.outputs FROM public.usage_counters u
                          WHERE u.org_id = v_org AND u.period_start = enclave.current_period_start()), 0)
          INTO v_used;
        IF v_quota IS NOT NULL AND v_used + greatest(p_drafts, 1) > v_quota THEN
            PERFORM enclave.refuse_over_limit(format(
                'This would write %s draft(s), and %s of the %s generated outputs of this organization''s plan are left for this billing period. An owner can choose a larger plan on the Billing page; the count starts again with the next period.',
                greatest(p_drafts, 1), greatest(v_quota - v_used, 0), v_quota));
        END IF;
        RETURN p_feature = ANY (v_features);
    END $$;

-- Sets one override; the admin's row (admin_begin) says who, what and why.
CREATE FUNCTION enclave.admin_set_override(p_org uuid, p_feature text, p_value integer,
                                           p_reason text, p_expires timestamptz) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE v_admin uuid := enclave.require_admin();
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM public.organizations o WHERE o.id = p_org) THEN
            RAISE EXCEPTION 'no organization has that id' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF p_feature = 'client_workspaces'
           AND (SELECT o.kind FROM public.organizations o WHERE o.id = p_org) <> 'agency' THEN
            RAISE EXCEPTION 'only agencies have client workspaces' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF p_expires IS NOT NULL AND p_expires <= now() THEN
            RAISE EXCEPTION 'the override must expire in the future (or never)' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        INSERT INTO enclave.entitlement_overrides (org_id, feature, value, reason, expires_at, granted_by)
             VALUES (p_org, p_feature, p_value, btrim(p_reason), p_expires, v_admin)
        ON CONFLICT (org_id, feature) DO UPDATE
           SET value = EXCLUDED.value, reason = EXCLUDED.reason, expires_at = EXCLUDED.expires_at,
               granted_by = EXCLUDED.granted_by, granted_at = now();
    END $$;

-- Ends one override now (the plan's own limit applies again).
CREATE FUNCTION enclave.admin_end_override(p_org uuid, p_feature text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        PERFORM enclave.require_admin();
        DELETE FROM enclave.entitlement_overrides WHERE org_id = p_org AND feature = p_feature;
        RETURN FOUND;
    END $$;

-- The overview's history ---------------------------------------------------------------------
CREATE TABLE enclave.mrr_daily (
    day            date NOT NULL,
    plan_id        text NOT NULL REFERENCES enclave.plans (plan_id),
    mrr_cents      bigint NOT NULL CHECK (mrr_cents >= 0),
    organizations  integer NOT NULL CHECK (organizations >= 0),
    PRIMARY KEY (day, plan_id)
);
COMMENT ON TABLE enclave.mrr_daily IS 'enclave:platform monthly recurring revenue per day and plan, as the daily snapshot job saw it; the system path only.';
ALTER TABLE enclave.mrr_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE enclave.mrr_daily FORCE ROW LEVEL SECURITY;
CREATE POLICY mrr_daily_system_path ON enclave.mrr_daily
    USING ((SELECT enclave.system_path_active()))
    WITH CHECK ((SELECT enclave.system_path_active()));
GRANT SELECT, INSERT, UPDATE ON enclave.mrr_daily TO enclave_runtime;

-- Today's revenue per plan (active and past-due subscriptions), written again each run.
CREATE FUNCTION enclave.snapshot_mrr() RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE v_rows integer;
    BEGIN
        PERFORM enclave.require_system_path('snapshot revenue');
        INSERT INTO enclave.mrr_daily AS m (day, plan_id, mrr_cents, organizations)
        SELECT (now() AT TIME ZONE 'UTC')::date, p.plan_id,
               coalesce(sum(p.monthly_price_cents::bigint
                            * CASE WHEN p.per_seat THEN coalesce(b.seat_quantity, 1) ELSE 1 END)
                        FILTER (WHERE b.org_id IS NOT NULL), 0),
               count(b.org_id)
          FROM enclave.plans p
          LEFT JOIN public.org_billing b ON b.plan_id = p.plan_id AND b.status IN ('active', 'past_due')
         WHERE NOT p.is_free
         GROUP BY p.plan_id
        ON CONFLICT (day, plan_id) DO UPDATE
           SET mrr_cents = EXCLUDED.mrr_cents, organizations = EXCLUDED.organizations;
        GET DIAGNOSTICS v_rows = ROW_COUNT;
        RETURN v_rows;
    END $$;

INSERT INTO enclave.job_queues (name, path, description) VALUES
    ('mrr_snapshot',      'system', 'every day: saves the monthly recurring revenue per plan for the admin overview'),
    ('mrr_snapshot.dead', 'system', 'mrr_snapshot jobs that failed every attempt');

-- Generated outputs per organization and day (the overview's chart). Counted in the
-- organization's own context by consume_outputs; read only on the system path.
CREATE TABLE public.usage_daily (
    org_id   uuid NOT NULL REFERENCES public.organizations (id),
    day      date NOT NULL,
    outputs  integer NOT NULL DEFAULT 0 CHECK (outputs >= 0),
    PRIMARY KEY (org_id, day)
);
CREATE INDEX usage_daily_day_idx ON public.usage_daily (day);
ALTER TABLE public.usage_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.usage_daily FORCE ROW LEVEL SECURITY;
CREATE POLICY usage_daily_org ON public.usage_daily
    USING (org_id = (SELECT enclave.current_org_id()))
    WITH CHECK (org_id = (SELECT enclave.current_org_id()));
-- Tenants never read this table (their counter is usage_counters), so the system path's
-- clause costs no tenant query its index.
CREATE POLICY usage_daily_system_path ON public.usage_daily FOR SELECT
    USING ((SELECT enclave.system_path_active()));
GRANT SELECT ON public.usage_daily TO enclave_runtime;

-- The system path's clause of two platform tables as an init plan, evaluated once per
-- statement instead of once per row (0014 and 0015 called the definer function per row:
-- the console's organization list spent most of its time there).
DROP POLICY stripe_events_system_path ON enclave.stripe_events;
CREATE POLICY stripe_events_system_path ON enclave.stripe_events
    USING ((SELECT enclave.system_path_active()))
    WITH CHECK ((SELECT enclave.system_path_active()));
DROP POLICY org_billing_system_path ON public.org_billing;
CREATE POLICY org_billing_system_path ON public.org_billing
    USING ((SELECT enclave.system_path_active()))
    WITH CHECK ((SELECT enclave.system_path_active()));

-- Indexes for the organizations page (name prefix search and sort, newest first, the
-- status and plan filters, open drift).
-- The name as searched and sorted (lowercase, compared bytewise). A stored column, not an
-- expression index: under row level security only leakproof comparisons can use an
-- index, and lower() is not leakproof, while text's < and >= are.
ALTER TABLE public.organizations ADD COLUMN name_key text GENERATED ALWAYS AS (lower(name)) STORED;
CREATE INDEX organizations_name_search_idx ON public.organizations ((name_key COLLATE "C"), id);
CREATE INDEX organizations_created_idx ON public.organizations (created_at, id);
CREATE INDEX org_billing_status_plan_idx ON public.org_billing (status, plan_id);
CREATE INDEX billing_findings_needs_person_idx ON enclave.billing_findings (org_id, run_id)
    WHERE action = 'needs_person';
CREATE INDEX stripe_events_type_idx ON enclave.stripe_events (event_type, first_received_at);
CREATE INDEX stripe_events_received_idx ON enclave.stripe_events (first_received_at);
CREATE INDEX billing_reconciliations_started_idx ON enclave.billing_reconciliations (started_at);
CREATE INDEX audit_log_org_idx ON enclave.audit_log (org_id, id) WHERE org_id IS NOT NULL;
CREATE INDEX audit_log_subscription_changes_idx ON enclave.audit_log (at) WHERE action = 'apply subscription state';

-- The console finds organizations by their Stripe customer and events by organization.
-- Rows stay behind 0016's policies (a member's own organization, or the system path).
GRANT SELECT ON enclave.stripe_customers TO enclave_runtime;

GRANT EXECUTE ON FUNCTION
    enclave.admin_grant(text, text),
    enclave.admin_revoke(text, text),
    enclave.admin_list(),
    enclave.admin_begin(uuid, timestamptz, boolean, text, uuid, jsonb),
    enclave.admin_org_usage(uuid[]),
    enclave.admin_audit(uuid, text, text, bigint, integer),
    enclave.admin_extend_grace(uuid, timestamptz),
    enclave.admin_set_override(uuid, text, integer, text, timestamptz),
    enclave.admin_end_override(uuid, text),
    enclave.current_limits(),
    enclave.snapshot_mrr(),
    enclave.admin_org_weeks(integer)
    TO enclave_runtime;
INSERT INTO enclave.definer_registry (function, path, rules) VALUES
    ('enclave.admin_grant(text, text)', 'system',
     'require_system_path (operator command); a verified address of an existing user only; audited'),
    ('enclave.admin_revoke(text, text)', 'system',
     'require_system_path (operator command); keeps the row with who revoked it; audited'),
    ('enclave.admin_list()', 'system', 'require_system_path (operator command); reads only'),
    ('enclave.admin_begin(uuid, timestamptz, boolean, text, uuid, jsonb)', 'system',
     'first statement of its transaction, outside any tenant context; writes the system audit row naming the admin, then refuses a user without an unrevoked grant, and a change without a sign-in from the last 15 minutes'),
    ('enclave.admin_org_usage(uuid[])', 'system',
     'require_admin; counts each organization in its own context as its first owner, restored after; at most 200'),
    ('enclave.admin_audit(uuid, text, text, bigint, integer)', 'system', 'require_admin; reads only, at most 200 rows'),
    ('enclave.admin_extend_grace(uuid, timestamptz)', 'system',
     'require_admin (admin_begin wrote the change''s audit row); past-due organizations only; later than now and the current end, at most 90 days ahead'),
    ('enclave.admin_set_override(uuid, text, integer, text, timestamptz)', 'system',
     'require_admin (admin_begin wrote the change''s audit row); client workspaces for agencies only; an expiry in the future or none'),
    ('enclave.snapshot_mrr()', 'system', 'require_system_path (the daily job); writes today''s revenue per plan'),
    ('enclave.admin_org_weeks(integer)', 'system', 'require_admin; counts only; at most 104 weeks'),
    ('enclave.admin_end_override(uuid, text)', 'system',
     'require_admin (admin_begin wrote the change''s audit row); deletes one override');
