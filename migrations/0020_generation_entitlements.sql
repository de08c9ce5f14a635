-- Billing (issue 11): generation checks the plan before it spends anything. The outputs
-- quota is still consumed, once per saved draft, by save_generated_output (0017); this
-- refuses early (when asked and when the job starts, before any call to a paid text
-- generator) and tells the job whether the plan includes the external generator.

-- Raises EN402 when the organization is read-only or `p_drafts` more drafts would pass the
-- quota of this period; returns whether the plan has `p_feature`.
CREATE FUNCTION enclave.check_generation(p_drafts integer, p_feature text) RETURNS boolean
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
        SELECT p.outputs_per_period, p.features INTO v_quota, v_features
          FROM enclave.plans p WHERE p.plan_id = enclave.current_plan();
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

-- Runs with the caller's rights; its checks are harmless to call (they only refuse).
GRANT EXECUTE ON FUNCTION
    enclave.check_generation(integer, text),
    enclave.require_writable(),
    enclave.refuse_over_limit(text)
    TO enclave_runtime;
