-- Billing, step 6 (issue 11, docs/BILLING.md): reconciliation. `enclave reconcile-billing`
-- and the hourly system job compare Stripe's customers and subscriptions with what the
-- database holds, repair through the same code as the webhooks, pull events whose
-- delivery failed into the ledger, and keep every finding as data (the platform admins'
-- console shows them). Cross-organization, so system path only.

CREATE TABLE enclave.billing_reconciliations (
    run_id        uuid PRIMARY KEY,
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    dry_run       boolean NOT NULL,
    -- Only this organization was compared (--org), else every customer.
    org_id        uuid,
    customers     integer NOT NULL DEFAULT 0 CHECK (customers >= 0),
    findings      integer NOT NULL DEFAULT 0 CHECK (findings >= 0),
    repaired      integer NOT NULL DEFAULT 0 CHECK (repaired >= 0),
    needs_person  integer NOT NULL DEFAULT 0 CHECK (needs_person >= 0),
    events_pulled integer NOT NULL DEFAULT 0 CHECK (events_pulled >= 0),
    -- 0 in sync or repaired, 1 something needs a person, 2 Stripe or the database failed.
    outcome       integer CHECK (outcome IN (0, 1, 2)),
    error         text CHECK (length(error) <= 2000)
);
COMMENT ON TABLE enclave.billing_reconciliations IS 'enclave:platform each billing reconciliation run and its counts; the system path only.';

CREATE TABLE enclave.billing_findings (
    finding_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id             uuid NOT NULL REFERENCES enclave.billing_reconciliations (run_id),
    found_at           timestamptz NOT NULL DEFAULT now(),
    org_id             uuid,
    stripe_customer_id text CHECK (length(stripe_customer_id) <= 255),
    -- What differed: state (plan, status, quantity, subscription or period), seats (the
    -- billed quantity against the members), unknown_customer, missing_customer,
    -- second_customer, missed_event, unsold_price.
    kind               text NOT NULL CHECK (kind IN ('state', 'seats', 'unknown_customer',
                           'missing_customer', 'second_customer', 'missed_event', 'unsold_price')),
    -- What was done: repaired, would_repair (dry run), pulled (into the ledger), needs_person.
    action             text NOT NULL CHECK (action IN ('repaired', 'would_repair', 'pulled', 'needs_person')),
    detail             jsonb NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE enclave.billing_findings IS 'enclave:platform what each billing reconciliation found and did, per organization and Stripe customer; the system path only.';
CREATE INDEX billing_findings_run_idx ON enclave.billing_findings (run_id);
CREATE INDEX billing_findings_org_idx ON enclave.billing_findings (org_id, found_at);

ALTER TABLE enclave.billing_reconciliations ENABLE ROW LEVEL SECURITY;
ALTER TABLE enclave.billing_reconciliations FORCE ROW LEVEL SECURITY;
CREATE POLICY billing_reconciliations_system_path ON enclave.billing_reconciliations
    USING (enclave.system_path_active()) WITH CHECK (enclave.system_path_active());
ALTER TABLE enclave.billing_findings ENABLE ROW LEVEL SECURITY;
ALTER TABLE enclave.billing_findings FORCE ROW LEVEL SECURITY;
CREATE POLICY billing_findings_system_path ON enclave.billing_findings
    USING (enclave.system_path_active()) WITH CHECK (enclave.system_path_active());
-- Row level security keeps both to the system path; reconciliation runs as the runtime role.
GRANT SELECT, INSERT ON enclave.billing_findings TO enclave_runtime;
GRANT SELECT, INSERT, UPDATE ON enclave.billing_reconciliations TO enclave_runtime;

-- The billing state of every organization with a customer, for comparing (system path).
CREATE FUNCTION enclave.billing_states()
    RETURNS TABLE (org_id uuid, org_kind text, plan_id text, status text, stripe_customer_id text,
                   stripe_subscription_id text, seat_quantity integer, per_seat boolean,
                   current_period_end timestamptz, cancel_at_period_end boolean, trial_ends_at timestamptz)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        PERFORM enclave.require_system_path('read every organization''s billing state');
        RETURN QUERY
            SELECT b.org_id, o.kind, b.plan_id, b.status, c.stripe_customer_id, b.stripe_subscription_id,
                   b.seat_quantity, p.per_seat, b.current_period_end, b.cancel_at_period_end, b.trial_ends_at
              FROM enclave.stripe_customers c
              JOIN public.organizations o ON o.id = c.org_id
              LEFT JOIN public.org_billing b ON b.org_id = c.org_id
              LEFT JOIN enclave.plans p ON p.plan_id = b.plan_id;
    END $$;

-- The seats an organization is billed for: its members (system path). Reads them in the
-- organization's own context, set for this statement's transaction and cleared after.
CREATE FUNCTION enclave.billable_seats(p_org uuid) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_was text := current_setting('enclave.org_id', true);
        v_count integer;
    BEGIN
        PERFORM enclave.require_system_path('count an organization''s seats');
        PERFORM set_config('enclave.org_id', p_org::text, true);
        SELECT count(*) INTO v_count FROM public.memberships m WHERE m.org_id = p_org;
        PERFORM set_config('enclave.org_id', coalesce(v_was, ''), true);
        RETURN v_count;
    END $$;

INSERT INTO enclave.job_queues (name, path, description) VALUES
    ('billing_reconcile',      'system', 'every hour: reconciles every organization''s billing with Stripe'),
    ('billing_reconcile.dead', 'system', 'billing_reconcile jobs that failed every attempt');

GRANT EXECUTE ON FUNCTION enclave.billing_states(), enclave.billable_seats(uuid) TO enclave_runtime;
INSERT INTO enclave.definer_registry (function, path, rules) VALUES
    ('enclave.billing_states()', 'system', 'system_path_active; reads the billing state of every organization with a Stripe customer'),
    ('enclave.billable_seats(uuid)', 'system', 'system_path_active; counts one organization''s members in its own context, restored after');
