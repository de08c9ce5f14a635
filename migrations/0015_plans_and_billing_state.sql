-- Billing, step 2 (issue 11, docs/BILLING.md): the plan catalog and each organization's
-- billing state. Nothing is limited yet (step 3); nothing here is written by the runtime
-- role except through the system path's function.

-- The catalog: every plan and its entitlements, in the platform schema (every table in
-- public and agency shows nothing without a tenant context; this one is the same for
-- everybody). Stripe price ids are configuration
-- (ENCLAVE_STRIPE_PRICES), not data, so test and live keys differ only there.
CREATE TABLE enclave.plans (
    plan_id             text PRIMARY KEY CHECK (plan_id ~ '^[a-z][a-z0-9_]{1,40}$'),
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    org_kind            text NOT NULL CHECK (org_kind IN ('sme', 'agency')),
    is_free             boolean NOT NULL DEFAULT false,
    per_seat            boolean NOT NULL DEFAULT false,
    -- What the plan costs per month (per seat when per_seat), for display; Stripe bills.
    monthly_price_cents integer NOT NULL CHECK (monthly_price_cents >= 0),
    -- Limits; NULL means unlimited. A per-seat plan has no seat limit: its quantity
    -- follows the members.
    seats               integer CHECK (seats > 0),
    client_workspaces   integer CHECK (client_workspaces >= 0),
    outputs_per_period  integer CHECK (outputs_per_period >= 0),
    features            text[] NOT NULL DEFAULT '{}',
    -- Days of full use after a payment fails, before writes are refused.
    grace_days          integer NOT NULL DEFAULT 0 CHECK (grace_days BETWEEN 0 AND 60),
    CHECK (NOT (per_seat AND seats IS NOT NULL)),
    CHECK (org_kind = 'agency' OR client_workspaces IS NULL)
);
COMMENT ON TABLE enclave.plans IS 'enclave:global the plan catalog and its entitlements; the same for every organization, no tenant data.';
-- One Free plan per kind: where an organization without a subscription stands.
CREATE UNIQUE INDEX plans_one_free_per_kind ON enclave.plans (org_kind) WHERE is_free;

INSERT INTO enclave.plans (plan_id, name, org_kind, is_free, per_seat, monthly_price_cents,
                          seats, client_workspaces, outputs_per_period, features, grace_days) VALUES
    ('free_sme',      'Free',   'sme',    true,  false, 0,     3,    NULL, 50,    '{}', 0),
    ('sme_team',      'Team',   'sme',    false, true,  1500,  NULL, NULL, 1000,  '{external_generator}', 7),
    ('sme_business',  'Business', 'sme',  false, false, 9900,  25,   NULL, 5000,  '{external_generator}', 7),
    ('free_agency',   'Free',   'agency', true,  false, 0,     3,    2,    50,    '{}', 0),
    ('agency_studio', 'Studio', 'agency', false, true,  2500,  NULL, 10,   3000,  '{external_generator}', 7),
    ('agency_scale',  'Scale',  'agency', false, false, 29900, 50,   100,  20000, '{external_generator}', 14);
-- Readable by everyone, written by nobody once FORCE is on: a later migration that
-- changes the catalog adds its own policy for the change (or runs before FORCE here).
ALTER TABLE enclave.plans ENABLE ROW LEVEL SECURITY;
ALTER TABLE enclave.plans FORCE ROW LEVEL SECURITY;
CREATE POLICY plans_readable ON enclave.plans FOR SELECT USING (true);
GRANT SELECT ON enclave.plans TO enclave_runtime;

-- What an organization pays for, as Stripe last said. No row: Free for its kind.
CREATE TABLE public.org_billing (
    org_id                 uuid NOT NULL REFERENCES public.organizations (id),
    plan_id                text NOT NULL REFERENCES enclave.plans (plan_id),
    status                 text NOT NULL
                           CHECK (status IN ('trialing', 'active', 'past_due', 'canceled', 'incomplete')),
    stripe_customer_id     text NOT NULL CHECK (stripe_customer_id ~ '^cus_[A-Za-z0-9]{1,250}$'),
    stripe_subscription_id text CHECK (stripe_subscription_id ~ '^sub_[A-Za-z0-9]{1,250}$'),
    current_period_start   timestamptz,
    current_period_end     timestamptz,
    trial_ends_at          timestamptz,
    cancel_at_period_end   boolean NOT NULL DEFAULT false,
    -- Set when a payment first fails (past_due); cleared when it is paid or canceled.
    grace_ends_at          timestamptz,
    -- The quantity Stripe bills (per-seat plans).
    seat_quantity          integer CHECK (seat_quantity >= 0),
    synced_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id),
    CHECK (status <> 'past_due' OR grace_ends_at IS NOT NULL)
);
-- Webhooks and reconciliation find the organization by its Stripe customer. Not unique:
-- unique keys lead with org_id (sharding by organization); apply_subscription refuses a
-- customer that already belongs to another organization instead.
CREATE INDEX org_billing_customer_idx ON public.org_billing (stripe_customer_id);
ALTER TABLE public.org_billing ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.org_billing FORCE ROW LEVEL SECURITY;
-- Members read their own organization's state; nobody writes it outside the function.
CREATE POLICY org_billing_members_read ON public.org_billing FOR SELECT
    USING (org_id = (SELECT enclave.current_org_id()));
CREATE POLICY org_billing_system_path ON public.org_billing
    USING (enclave.system_path_active())
    WITH CHECK (enclave.system_path_active());
GRANT SELECT ON public.org_billing TO enclave_runtime;

-- Writes the state of an organization's subscription as fetched from Stripe. Called
-- only on the system path (webhook processing, reconciliation, checkout return), with
-- the object's current state, never a payload's: so order and repeats do not matter.
-- The grace period starts when a payment first fails and ends by the plan's days.
CREATE FUNCTION enclave.apply_subscription(
        p_org uuid, p_plan text, p_status text, p_customer text, p_subscription text,
        p_period_start timestamptz, p_period_end timestamptz, p_trial_end timestamptz,
        p_cancel_at_period_end boolean, p_seat_quantity integer)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_kind text;
        v_plan_kind text;
        v_grace integer;
        v_was text;
        v_grace_ends timestamptz;
    BEGIN
        IF NOT enclave.system_path_active() THEN
            RAISE EXCEPTION 'billing state is written only on the audited system path'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        SELECT o.kind INTO v_kind FROM public.organizations o WHERE o.id = p_org;
        SELECT p.org_kind, p.grace_days INTO v_plan_kind, v_grace
          FROM enclave.plans p WHERE p.plan_id = p_plan;
        IF v_kind IS NULL OR v_plan_kind IS NULL OR v_kind <> v_plan_kind THEN
            RAISE EXCEPTION 'plan % does not exist or is not for this kind of organization', p_plan
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        -- One Stripe customer is one organization: two claims of one customer take turns.
        PERFORM pg_advisory_xact_lock(7235015, hashtext(p_customer));
        IF EXISTS (SELECT 1 FROM public.org_billing b
                    WHERE b.stripe_customer_id = p_customer AND b.org_id <> p_org) THEN
            RAISE EXCEPTION 'Stripe customer % already belongs to another organization', p_customer
                USING ERRCODE = 'unique_violation';
        END IF;
        SELECT b.status, b.grace_ends_at INTO v_was, v_grace_ends
          FROM public.org_billing b WHERE b.org_id = p_org FOR UPDATE;
        IF p_status = 'past_due' THEN
            IF v_was IS DISTINCT FROM 'past_due' OR v_grace_ends IS NULL THEN
                v_grace_ends := now() + make_interval(days => v_grace);
            END IF;
        ELSE
            v_grace_ends := NULL;
        END IF;
        INSERT INTO public.org_billing AS b
               (org_id, plan_id, status, stripe_customer_id, stripe_subscription_id,
                current_period_start, current_period_end, trial_ends_at, cancel_at_period_end,
                grace_ends_at, seat_quantity, synced_at)
        VALUES (p_org, p_plan, p_status, p_customer, p_subscription, p_period_start, p_period_end,
                p_trial_end, coalesce(p_cancel_at_period_end, false), v_grace_ends, p_seat_quantity, now())
        ON CONFLICT (org_id) DO UPDATE SET
            plan_id = EXCLUDED.plan_id, status = EXCLUDED.status,
            stripe_customer_id = EXCLUDED.stripe_customer_id,
            stripe_subscription_id = EXCLUDED.stripe_subscription_id,
            current_period_start = EXCLUDED.current_period_start,
            current_period_end = EXCLUDED.current_period_end,
            trial_ends_at = EXCLUDED.trial_ends_at,
            cancel_at_period_end = EXCLUDED.cancel_at_period_end,
            grace_ends_at = EXCLUDED.grace_ends_at,
            seat_quantity = EXCLUDED.seat_quantity,
            synced_at = now();
        INSERT INTO enclave.audit_log (path, actor, org_id, action, detail)
             VALUES ('system', 'billing', p_org, 'apply subscription state',
                     jsonb_build_object('plan', p_plan, 'status', p_status, 'was', v_was,
                                        'customer', p_customer, 'subscription', p_subscription,
                                        'grace_ends_at', v_grace_ends));
    END $$;

-- The plan in force in the context organization: its subscription's plan while
-- trialing, active or past due; Free for its kind without one or once canceled.
CREATE FUNCTION enclave.current_plan() RETURNS text
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_plan text;
    BEGIN
        SELECT b.plan_id INTO v_plan FROM public.org_billing b
         WHERE b.org_id = enclave.current_org_id()
           AND b.status IN ('trialing', 'active', 'past_due');
        IF v_plan IS NULL THEN
            SELECT p.plan_id INTO v_plan FROM enclave.plans p
              JOIN public.organizations o ON o.kind = p.org_kind
             WHERE o.id = enclave.current_org_id() AND p.is_free;
        END IF;
        RETURN v_plan;
    END $$;

GRANT EXECUTE ON FUNCTION
    enclave.apply_subscription(uuid, text, text, text, text, timestamptz, timestamptz, timestamptz, boolean, integer),
    enclave.current_plan()
    TO enclave_runtime;
INSERT INTO enclave.definer_registry (function, path, rules) VALUES
    ('enclave.apply_subscription(uuid, text, text, text, text, timestamptz, timestamptz, timestamptz, boolean, integer)',
     'system', 'system_path_active; the plan must exist for the organization''s kind; grace starts at the first failed payment; audited');
