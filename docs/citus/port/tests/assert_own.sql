-- Included by iso_assert.sql inside an honest context: no row of another organization
-- (org_id, or id for organizations) in any tenant relation; in a client context no row of
-- another client in the client-scoped tables (client_workspaces and client_assignments
-- list the clients an owner manages); and the exact counts in citus_test.expect (jsonb
-- {relation: rows}) for the relations named there.
-- Settings: citus_test.case, citus_test.org, citus_test.ws ('' for none), citus_test.expect.
DO $$
DECLARE
    r record; n bigint; v_foreign bigint; v_rels int := 0; v_seen int := 0; v_bad text := '';
    v_org uuid := current_setting('citus_test.org')::uuid;
    v_ws uuid := nullif(current_setting('citus_test.ws'), '')::uuid;
    v_expect jsonb := current_setting('citus_test.expect')::jsonb;
BEGIN
    FOR r IN SELECT c.oid::regclass AS rel,
                    EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped) AS has_org,
                    EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'workspace_id' AND NOT a.attisdropped) AS has_ws
               FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
              WHERE ns.nspname IN ('public', 'agency', 'enclave') AND c.relkind IN ('r', 'p', 'v')
                AND c.relowner = 'enclave_owner'::regrole AND has_table_privilege(c.oid, 'SELECT')
                AND (c.relkind = 'v' OR EXISTS (SELECT 1 FROM pg_dist_partition d WHERE d.logicalrelid = c.oid)) LOOP
        v_rels := v_rels + 1;
        EXECUTE format('SELECT count(*), count(*) FILTER (WHERE %s) FROM %s',
                       CASE WHEN r.rel = 'public.organizations'::regclass THEN 'id IS DISTINCT FROM $1'
                            WHEN r.has_org AND r.has_ws AND v_ws IS NOT NULL
                                 AND r.rel NOT IN ('agency.client_workspaces'::regclass, 'agency.client_assignments'::regclass)
                                 THEN 'org_id IS DISTINCT FROM $1 OR workspace_id IS DISTINCT FROM $2'
                            WHEN r.has_org THEN 'org_id IS DISTINCT FROM $1'
                            ELSE 'false' END, r.rel)
           INTO n, v_foreign USING v_org, v_ws;
        IF n > 0 THEN v_seen := v_seen + 1; END IF;
        IF v_foreign <> 0 THEN v_bad := v_bad || format(' %s: %s foreign rows;', r.rel, v_foreign); END IF;
        IF v_expect ? r.rel::text AND (v_expect ->> r.rel::text)::bigint <> n THEN
            v_bad := v_bad || format(' %s: %s rows, %s expected;', r.rel, n, v_expect ->> r.rel::text);
        END IF;
    END LOOP;
    IF v_bad <> '' THEN
        RAISE EXCEPTION 'FAIL (d) %:%', current_setting('citus_test.case'), v_bad;
    END IF;
    RAISE NOTICE 'ok (d) %: rows in % of % relations, none of another organization or client; counts as expected (%)',
        current_setting('citus_test.case'), v_seen, v_rels, v_expect;
END $$;
