-- Included by iso_assert.sql inside a transaction with a forged (unsealed, replayed or
-- switched) context: every tenant relation the runtime role can read (the Citus tables and
-- Enclave's views: the 41 of counts.sql) must show 0 rows; enclave.plans is global.
-- The case's name is in the setting citus_test.case.
DO $$
DECLARE r record; n bigint; v_rels int := 0; v_bad text := '';
BEGIN
    FOR r IN SELECT c.oid::regclass AS rel
               FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
              WHERE ns.nspname IN ('public', 'agency', 'enclave') AND c.relkind IN ('r', 'p', 'v')
                AND c.relowner = 'enclave_owner'::regrole AND has_table_privilege(c.oid, 'SELECT')
                AND (c.relkind = 'v' OR EXISTS (SELECT 1 FROM pg_dist_partition d WHERE d.logicalrelid = c.oid))
                AND c.oid <> 'enclave.plans'::regclass LOOP
        EXECUTE format('SELECT count(*) FROM %s', r.rel) INTO n;
        v_rels := v_rels + 1;
        IF n <> 0 THEN v_bad := v_bad || format(' %s=%s', r.rel, n); END IF;
    END LOOP;
    IF v_bad <> '' THEN
        RAISE EXCEPTION 'FAIL (d) %: rows seen:%', current_setting('citus_test.case'), v_bad;
    END IF;
    IF v_rels < 40 THEN
        RAISE EXCEPTION 'FAIL (d) %: only % relations found to check', current_setting('citus_test.case'), v_rels;
    END IF;
    RAISE NOTICE 'ok (d) %: 0 rows in all % tenant relations', current_setting('citus_test.case'), v_rels;
END $$;
