-- Billing, step 4 (issue 11, docs/BILLING.md): an organization's own Stripe customer, and
-- processing the ledger of Stripe events.
--
-- * An owner's first "Choose a plan" creates the Stripe customer (idempotency key
--   derived from the organization) and records it at once, before any subscription
--   exists (org_billing status 'none'). A second, concurrent first click gets the same
--   customer from Stripe and finds it recorded; another organization can never claim it:
--   enclave.stripe_customers keys customers globally (0015 checked under row level
--   security, which in a tenant context sees only its own organization's rows).
-- * Processing an event fetches the customer's subscriptions from Stripe and writes that
--   state (apply_subscription, 0015); the ledger row then moves to processed, parked
--   (the customer is not known yet: retried with backoff), ignored or dead.

ALTER TABLE public.org_billing DROP CONSTRAINT org_billing_status_check;
ALTER TABLE public.org_billing ADD CONSTRAINT org_billing_status_check
    CHECK (status IN ('none', 'trialing', 'active', 'past_due', 'canceled', 'incomplete'));

-- Which organization each Stripe customer is. The key is global, so a customer can never
-- be claimed by two organizations, even by one whose context cannot see the other's row
-- (a uniqueness check under row level security would only see its own organization's).
-- One customer per organization too.
CREATE TABLE enclave.stripe_customers (
    stripe_customer_id text PRIMARY KEY CHECK (stripe_customer_id ~ '^cus_[A-Za-z0-9]{1,250}$'),
    org_id             uuid NOT NULL UNIQUE REFERENCES public.organizations (id),
    recorded_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE enclave.stripe_customers IS 'enclave:platform the Stripe customer of each organization; its global key is what keeps one customer to one organization.';
ALTER TABLE enclave.stripe_customers ENABLE ROW LEVEL SECURITY;
ALTER TABLE enclave.stripe_customers FORCE ROW LEVEL SECURITY;
CREATE POLICY stripe_customers_own ON enclave.stripe_customers FOR SELECT
    USING (org_id = (SELECT enclave.current_org_id()));
CREATE POLICY stripe_customers_owner_claims ON enclave.stripe_customers FOR INSERT
    WITH CHECK (org_id = (SELECT enclave.current_org_id())
                AND (SELECT enclave.current_member_role()) = 'owner');
CREATE POLICY stripe_customers_system_path ON enclave.stripe_customers
    USING ((SELECT enclave.system_path_active()))
    WITH CHECK ((SELECT enclave.system_path_active()));

-- The org_billing row an owner's claim makes; everything else stays with the system path.
CREATE POLICY org_billing_owner_claims_customer ON public.org_billing FOR INSERT
    WITH CHECK (org_id = (SELECT enclave.current_org_id())
                AND (SELECT enclave.current_member_role()) = 'owner'
                AND status = 'none' AND stripe_subscription_id IS NULL);

-- Records the organization's Stripe customer (created by the caller with an idempotency
-- key derived from the organization) and returns the one recorded: an earlier claim
-- wins, so two first clicks cannot leave two customers in use; a customer of another
-- organization is refused. Owners only.
CREATE FUNCTION enclave.record_billing_customer(p_customer text) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_org uuid := enclave.current_org_id();
        v_free text;
        v_recorded text;
    BEGIN
        IF v_org IS NULL OR enclave.current_member_role() IS DISTINCT FROM 'owner' THEN
            RAISE EXCEPTION 'only owners can manage billing' USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF p_customer IS NULL OR p_customer !~ '^cus_[A-Za-z0-9]{1,250}$' THEN
            RAISE EXCEPTION 'not a Stripe customer id' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        INSERT INTO enclave.stripe_customers (stripe_customer_id, org_id)
             VALUES (p_customer, v_org)
        ON CONFLICT DO NOTHING;
        SELECT c.stripe_customer_id INTO v_recorded FROM enclave.stripe_customers c WHERE c.org_id = v_org;
        IF v_recorded IS NULL THEN
            -- The key was taken, and not by this organization.
            RAISE EXCEPTION 'Stripe customer % already belongs to another organization', p_customer
                USING ERRCODE = 'unique_violation';
        END IF;
        SELECT p.plan_id INTO v_free FROM enclave.plans p
          JOIN public.organizations o ON o.kind = p.org_kind
         WHERE o.id = v_org AND p.is_free;
        INSERT INTO public.org_billing (org_id, plan_id, status, stripe_customer_id)
             VALUES (v_org, v_free, 'none', v_recorded)
        ON CONFLICT (org_id) DO NOTHING;
        IF v_recorded = p_customer THEN
            PERFORM enclave.audit_tenant('record billing customer', jsonb_build_object('customer', p_customer));
        END IF;
        RETURN v_recorded;
    END $$;

-- As in 0015, with the customer's organization kept in enclave.stripe_customers: a
-- customer already recorded for another organization, or a second customer for one
-- organization, is refused (processing marks the event dead for a person to look at).
CREATE OR REPLACE FUNCTION enclave.apply_subscription(
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
        v_owner uuid;
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
        INSERT INTO enclave.stripe_customers (stripe_customer_id, org_id)
             VALUES (p_customer, p_org)
        ON CONFLICT DO NOTHING;
        SELECT c.org_id INTO v_owner FROM enclave.stripe_customers c WHERE c.stripe_customer_id = p_customer;
        IF v_owner IS DISTINCT FROM p_org THEN
            RAISE EXCEPTION '%', CASE WHEN v_owner IS NULL
                    THEN format('the organization already has another Stripe customer than %s', p_customer)
                    ELSE format('Stripe customer %s already belongs to another organization', p_customer) END
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

-- What counts against the plan's limits in the context organization: seats (members and
-- pending invitations) and client workspaces not archived. Rows the caller may not see
-- are not counted (plain members do not see invitations), so limits are checked by the
-- functions that act, in the acting manager's context, never from this reading.
CREATE FUNCTION enclave.billing_usage(OUT o_seats bigint, OUT o_client_workspaces bigint)
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
                 WHERE w.org_id = v_org AND w.archived_at IS NULL)
          INTO o_seats, o_client_workspaces;
    END $$;

-- Processing state of each ledger row: how often it was tried and when it may be again.
ALTER TABLE enclave.stripe_events
    ADD COLUMN attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    ADD COLUMN next_attempt_at timestamptz;
CREATE INDEX stripe_events_due_idx ON enclave.stripe_events (next_attempt_at)
    WHERE status IN ('received', 'parked');

-- Processing runs on the system path (the policy of 0014 lets nothing else through); it
-- reads the ledger and moves a row's processing columns, nothing else.
GRANT SELECT ON enclave.stripe_events TO enclave_runtime;
GRANT UPDATE (status, processed_at, last_error, attempts, next_attempt_at)
    ON enclave.stripe_events TO enclave_runtime;

-- Which organization a Stripe customer is, for processing (system path only).
CREATE FUNCTION enclave.billing_org_of_customer(p_customer text) RETURNS uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE v_org uuid;
    BEGIN
        PERFORM enclave.require_system_path('look up a Stripe customer');
        SELECT c.org_id INTO v_org FROM enclave.stripe_customers c WHERE c.stripe_customer_id = p_customer;
        RETURN v_org;
    END $$;

-- The processing jobs' queues.
INSERT INTO enclave.job_queues (name, path, description) VALUES
    ('stripe_events',           'system', 'processes a Stripe event: fetches its customer''s subscriptions and writes them'),
    ('stripe_events.dead',      'system', 'stripe_events jobs that failed every attempt'),
    ('stripe_events_sweep',     'system', 'every minute: processes ledger rows whose job was lost or whose customer was parked'),
    ('stripe_events_sweep.dead','system', 'stripe_events_sweep jobs that failed every attempt');

GRANT EXECUTE ON FUNCTION
    enclave.billing_usage(),
    enclave.record_billing_customer(text),
    enclave.billing_org_of_customer(text)
    TO enclave_runtime;
INSERT INTO enclave.definer_registry (function, path, rules) VALUES
    ('enclave.record_billing_customer(text)', 'tenant',
     'owners only; the customer must not belong to another organization (advisory lock on it); an earlier claim wins; audited'),
    ('enclave.billing_org_of_customer(text)', 'system',
     'system_path_active; reads one organization id by its Stripe customer');
