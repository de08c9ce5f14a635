-- Billing (issue 11): seats follow members. On per-seat plans the quantity Stripe bills
-- must equal the members. Every minute the Stripe events sweep asks the database which
-- live per-seat subscriptions bill another number than the members, sets the quantity
-- at Stripe (idempotently, prorations explicit) and writes the fetched state back. A
-- failure is recorded on the organization's billing row and tried again the next minute,
-- never swallowed. This covers every way members change (invitations, removals, leaving,
-- operators), because it compares counts instead of listening to one code path.

ALTER TABLE public.org_billing
    ADD COLUMN seat_sync_error     text CHECK (length(seat_sync_error) <= 2000),
    ADD COLUMN seat_sync_failed_at timestamptz,
    ADD COLUMN seat_sync_attempts  integer NOT NULL DEFAULT 0 CHECK (seat_sync_attempts >= 0);

-- Live per-seat subscriptions whose billed quantity differs from the members (system
-- path). Members are counted in each organization's own context, restored after.
CREATE FUNCTION enclave.seat_drift(p_limit integer)
    RETURNS TABLE (org_id uuid, stripe_customer_id text, stripe_subscription_id text,
                   seat_quantity integer, members integer, synced_at timestamptz)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_was text := current_setting('enclave.org_id', true);
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
            PERFORM set_config('enclave.org_id', r.org_id::text, true);
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
        PERFORM set_config('enclave.org_id', coalesce(v_was, ''), true);
    END $$;

-- Records how a seat sync went: an error and its time, or (NULL) success.
CREATE FUNCTION enclave.record_seat_sync(p_org uuid, p_error text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        PERFORM enclave.require_system_path('record a seat sync');
        UPDATE public.org_billing
           SET seat_sync_error = left(p_error, 2000),
               seat_sync_failed_at = CASE WHEN p_error IS NULL THEN NULL ELSE now() END,
               seat_sync_attempts = CASE WHEN p_error IS NULL THEN 0 ELSE seat_sync_attempts + 1 END
         WHERE org_id = p_org;
        IF p_error IS NOT NULL THEN
            INSERT INTO enclave.audit_log (path, actor, org_id, action, detail)
                 VALUES ('system', 'billing', p_org, 'seat sync failed', jsonb_build_object('error', left(p_error, 500)));
        END IF;
    END $$;

GRANT EXECUTE ON FUNCTION enclave.seat_drift(integer), enclave.record_seat_sync(uuid, text) TO enclave_runtime;
INSERT INTO enclave.definer_registry (function, path, rules) VALUES
    ('enclave.seat_drift(integer)', 'system', 'system_path_active; counts each per-seat organization''s members in its own context, restored after'),
    ('enclave.record_seat_sync(uuid, text)', 'system', 'system_path_active; sets or clears the seat sync error of one organization; failures audited');
