-- Billing's queries on Citus (issue 14; met by running server/tests/billing_limits.rs and
-- billing_reconcile.rs against a cluster).
--
-- 1. The billing period's start outside the shard's query. check_generation (every draft
--    generation), billing_usage (the Billing page) and admin_org_usage (the admin console)
--    compared `u.period_start = enclave.current_period_start()` inside their read of
--    usage_counters. Citus sends that read to the worker holding the shard with the call in
--    it, and current_period_start reads org_billing, itself distributed: "cannot execute a
--    distributed query from a query on a shard". Each now reads the period into a variable
--    first, on the coordinator (the same value: the function is STABLE, the context the
--    same). consume_outputs is left as it is: Citus evaluates the functions of an INSERT's
--    VALUES on the coordinator, and the Citus recipe rewrites it (ON CONFLICT's now()).
-- 2. billing_states (the reconciliation's read of every organization's billing) joined
--    stripe_customers and organizations (reference tables) LEFT JOIN org_billing
--    (distributed). Under row-level security that shape crashes Citus 13.2.2's coordinator
--    (signal 11; every backend of the coordinator restarts). It now reads the organizations
--    with a billing row from org_billing's side (distributed JOIN reference, which Citus
--    pushes to each shard) and the customers without one in a second statement, over
--    reference tables only: the same rows.

CREATE OR REPLACE FUNCTION enclave.billing_usage(OUT o_seats bigint, OUT o_client_workspaces bigint, OUT o_outputs bigint)
 RETURNS record
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    DECLARE v_org uuid := enclave.current_org_id(); v_period timestamptz;
    BEGIN
        IF v_org IS NULL OR enclave.current_member_role() IS NULL THEN
            RAISE EXCEPTION 'no tenant context' USING ERRCODE = 'insufficient_privilege';
        END IF;
        v_period := enclave.current_period_start();
        SELECT (SELECT count(*) FROM public.memberships m WHERE m.org_id = v_org)
             + (SELECT count(*) FROM public.invitations i
                 WHERE i.org_id = v_org AND i.accepted_at IS NULL AND i.revoked_at IS NULL
                   AND i.expires_at > now()),
               (SELECT count(*) FROM agency.client_workspaces w
                 WHERE w.org_id = v_org AND w.archived_at IS NULL),
               coalesce((SELECT u.outputs FROM public.usage_counters u
                          WHERE u.org_id = v_org AND u.period_start = v_period), 0)
          INTO o_seats, o_client_workspaces, o_outputs;
    END $function$;

CREATE OR REPLACE FUNCTION enclave.check_generation(p_drafts integer, p_feature text)
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    DECLARE
        v_org uuid := enclave.current_org_id();
        v_quota integer;
        v_features text[];
        v_used integer;
        v_period timestamptz;
    BEGIN
        IF v_org IS NULL THEN
            RAISE EXCEPTION 'no tenant context' USING ERRCODE = 'insufficient_privilege';
        END IF;
        PERFORM enclave.require_writable();
        SELECT l.outputs_per_period, l.features INTO v_quota, v_features FROM enclave.current_limits() l;
        v_period := enclave.current_period_start();
        SELECT coalesce((SELECT u.outputs FROM public.usage_counters u
                          WHERE u.org_id = v_org AND u.period_start = v_period), 0)
          INTO v_used;
        IF v_quota IS NOT NULL AND v_used + greatest(p_drafts, 1) > v_quota THEN
            PERFORM enclave.refuse_over_limit(format(
                'This would write %s draft(s), and %s of the %s generated outputs of this organization''s plan are left for this billing period. An owner can choose a larger plan on the Billing page; the count starts again with the next period.',
                greatest(p_drafts, 1), greatest(v_quota - v_used, 0), v_quota));
        END IF;
        RETURN p_feature = ANY (v_features);
    END $function$;

CREATE OR REPLACE FUNCTION enclave.admin_org_usage(p_orgs uuid[])
 RETURNS TABLE(org_id uuid, members bigint, pending_invitations bigint, open_clients bigint, outputs_this_period bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    DECLARE
        v_saved text[] := enclave.saved_context();
        v_org uuid;
        v_owner uuid;
        v_period timestamptz;
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
            v_period := enclave.current_period_start();
            SELECT count(*) INTO members FROM public.memberships m WHERE m.org_id = v_org;
            SELECT count(*) INTO pending_invitations FROM public.invitations i
             WHERE i.org_id = v_org AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > now();
            SELECT count(*) INTO open_clients FROM agency.client_workspaces w
             WHERE w.org_id = v_org AND w.archived_at IS NULL;
            SELECT coalesce((SELECT u.outputs FROM public.usage_counters u
                              WHERE u.org_id = v_org AND u.period_start = v_period), 0)
              INTO outputs_this_period;
            RETURN NEXT;
        END LOOP;
        PERFORM enclave.restore_context(v_saved);
    END $function$;


CREATE OR REPLACE FUNCTION enclave.billing_states()
 RETURNS TABLE(org_id uuid, org_kind text, plan_id text, status text, stripe_customer_id text, stripe_subscription_id text, seat_quantity integer, per_seat boolean, current_period_end timestamp with time zone, cancel_at_period_end boolean, trial_ends_at timestamp with time zone)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    DECLARE
        v_billed uuid[];
    BEGIN
        PERFORM enclave.require_system_path('read every organization''s billing state');
        SELECT coalesce(array_agg(b.org_id), '{}') INTO v_billed FROM public.org_billing b;
        RETURN QUERY
            SELECT b.org_id, o.kind, b.plan_id, b.status, c.stripe_customer_id, b.stripe_subscription_id,
                   b.seat_quantity, p.per_seat, b.current_period_end, b.cancel_at_period_end, b.trial_ends_at
              FROM public.org_billing b
              JOIN enclave.stripe_customers c ON c.org_id = b.org_id
              JOIN public.organizations o ON o.id = b.org_id
              LEFT JOIN enclave.plans p ON p.plan_id = b.plan_id;
        -- A customer whose organization has no billing row: as the outer join gave it.
        RETURN QUERY
            SELECT NULL::uuid, o.kind, NULL::text, NULL::text, c.stripe_customer_id, NULL::text,
                   NULL::integer, NULL::boolean, NULL::timestamptz, NULL::boolean, NULL::timestamptz
              FROM enclave.stripe_customers c
              JOIN public.organizations o ON o.id = c.org_id
             WHERE c.org_id <> ALL (v_billed);
    END $function$;
