-- snapshot_mrr without a LEFT JOIN from plans to org_billing (issue 14).
--
-- On Citus 13.2.2, `enclave.plans` (a reference table) LEFT JOINed to `public.org_billing`
-- (distributed, under row level security) crashes the coordinator with signal 11 when a
-- role subject to RLS runs it, and the whole cluster restarts (found by the tenant-table
-- walk run against a cluster; `SELECT count(*) FROM enclave.plans p LEFT JOIN
-- public.org_billing b ON b.plan_id = p.plan_id` as the runtime role is enough; recorded in
-- ARCHITECTURE "Scaling out"). The daily revenue snapshot now reads each plan's totals from
-- org_billing alone (an aggregate over the shards) and writes one row per plan. Same rows on
-- one node.
CREATE OR REPLACE FUNCTION enclave.snapshot_mrr() RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_rows integer := 0;
        v_day date := (now() AT TIME ZONE 'UTC')::date;
        v_mrr bigint;
        v_orgs bigint;
        p record;
    BEGIN
        PERFORM enclave.require_system_path('snapshot revenue');
        FOR p IN SELECT plan_id, monthly_price_cents, per_seat FROM enclave.plans WHERE NOT is_free ORDER BY plan_id LOOP
            SELECT coalesce(sum(p.monthly_price_cents::bigint
                                * CASE WHEN p.per_seat THEN coalesce(b.seat_quantity, 1) ELSE 1 END), 0),
                   count(*)
              INTO v_mrr, v_orgs
              FROM public.org_billing b
             WHERE b.plan_id = p.plan_id AND b.status IN ('active', 'past_due');
            INSERT INTO enclave.mrr_daily AS m (day, plan_id, mrr_cents, organizations)
                 VALUES (v_day, p.plan_id, v_mrr, v_orgs)
            ON CONFLICT (day, plan_id) DO UPDATE
               SET mrr_cents = EXCLUDED.mrr_cents, organizations = EXCLUDED.organizations;
            v_rows := v_rows + 1;
        END LOOP;
        RETURN v_rows;
    END $$;
