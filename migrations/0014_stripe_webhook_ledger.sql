-- Billing, step 1 (issue 11): the ledger of Stripe webhook deliveries.
--
-- Stripe delivers at least once and in any order. Every verified delivery is recorded
-- here by its event id before it is answered; a repeat bumps the delivery count and is
-- not processed again. Processing (a system job, serialized per customer) and
-- reconciliation come next and move `status` on. The ledger spans organizations, so it
-- is read and written only on the audited system path: RLS with FORCE lets a row through
-- only while `enclave.system_path_active()`.

CREATE TABLE enclave.stripe_events (
    event_id           text PRIMARY KEY CHECK (event_id ~ '^evt_[A-Za-z0-9_]{1,250}$'),
    event_type         text NOT NULL CHECK (length(event_type) BETWEEN 1 AND 200),
    api_version        text CHECK (length(api_version) <= 40),
    livemode           boolean NOT NULL,
    -- The object the event is about and its customer, as the payload names them.
    object_id          text CHECK (length(object_id) <= 255),
    customer_id        text CHECK (length(customer_id) <= 255),
    -- Stripe's own time of the event (seconds), for ordering with the object's state.
    created_at         timestamptz NOT NULL,
    payload            jsonb NOT NULL,
    status             text NOT NULL DEFAULT 'received'
                       CHECK (status IN ('received', 'processed', 'ignored', 'parked', 'dead')),
    delivery_count     integer NOT NULL DEFAULT 1 CHECK (delivery_count >= 1),
    first_received_at  timestamptz NOT NULL DEFAULT now(),
    last_received_at   timestamptz NOT NULL DEFAULT now(),
    processed_at       timestamptz,
    last_error         text CHECK (length(last_error) <= 2000)
);
COMMENT ON TABLE enclave.stripe_events IS 'enclave:global Stripe webhook deliveries of every organization, by event id; only the audited system path reads or writes them.';
CREATE INDEX stripe_events_customer_idx ON enclave.stripe_events (customer_id, created_at);
CREATE INDEX stripe_events_status_idx ON enclave.stripe_events (status, first_received_at);
ALTER TABLE enclave.stripe_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE enclave.stripe_events FORCE ROW LEVEL SECURITY;
CREATE POLICY stripe_events_system_path ON enclave.stripe_events
    USING (enclave.system_path_active())
    WITH CHECK (enclave.system_path_active());

-- Records one verified delivery. Returns whether it was new (to be processed) and how
-- many times it has arrived. Concurrent repeats of one event serialize on its key.
CREATE FUNCTION enclave.record_stripe_event(
        p_event_id text, p_event_type text, p_api_version text, p_livemode boolean,
        p_object_id text, p_customer_id text, p_created timestamptz, p_payload jsonb,
        OUT o_new boolean, OUT o_delivery_count integer)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        IF NOT enclave.system_path_active() THEN
            RAISE EXCEPTION 'Stripe events are recorded only on the audited system path'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        INSERT INTO enclave.stripe_events AS e
               (event_id, event_type, api_version, livemode, object_id, customer_id, created_at, payload)
        VALUES (p_event_id, p_event_type, p_api_version, p_livemode, p_object_id, p_customer_id, p_created, p_payload)
        ON CONFLICT (event_id) DO UPDATE
           SET delivery_count = e.delivery_count + 1, last_received_at = now()
        RETURNING (xmax = 0), e.delivery_count INTO o_new, o_delivery_count;
    END $$;

GRANT EXECUTE ON FUNCTION enclave.record_stripe_event(text, text, text, boolean, text, text, timestamptz, jsonb)
    TO enclave_runtime;
INSERT INTO enclave.definer_registry (function, path, rules) VALUES
    ('enclave.record_stripe_event(text, text, text, boolean, text, text, timestamptz, jsonb)', 'system',
     'system_path_active; the caller verified the Stripe signature; one row per event id, repeats only counted');
